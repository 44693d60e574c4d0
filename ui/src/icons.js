// Icons drawn as inline SVG, so they look the same with any fonts (emoji fonts are not a given).
const SVG = 'http://www.w3.org/2000/svg';

// 24x24 outline paths, stroked with the text colour.
const PATHS = {
  rename: ['M4 20h4L19 9l-4-4L4 16z', 'M14 6l4 4'],
  export: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
  delete: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13', 'M10 11v6', 'M14 11v6'],
  menu: ['M4 6h16', 'M4 12h16', 'M4 18h16'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
};

/** An SVG icon for a button; the button's aria-label names it, so the icon itself is hidden. */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of PATHS[name]) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** Put the named icon into every element with data-icon="name" (the page's static buttons). */
export function drawIcons(root = document) {
  for (const element of root.querySelectorAll('[data-icon]')) {
    element.replaceChildren(icon(element.dataset.icon));
  }
}
