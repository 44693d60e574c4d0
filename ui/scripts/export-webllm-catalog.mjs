// Writes the installed WebLLM's own prebuilt model records to desktop_llm/models/webllm_prebuilt.json
// (run by `npm run build`), so that the app's GPU catalog always matches the runtime it ships.
import { writeFileSync } from 'node:fs';
import { prebuiltAppConfig, modelVersion, modelLibURLPrefix } from '@mlc-ai/web-llm';

const pkg = JSON.parse(await (await import('node:fs/promises')).readFile(
  new URL('../node_modules/@mlc-ai/web-llm/package.json', import.meta.url), 'utf-8'));
const out = new URL('../../desktop_llm/models/webllm_prebuilt.json', import.meta.url);
writeFileSync(out, JSON.stringify({
  web_llm_version: pkg.version,
  model_version: modelVersion,
  model_lib_url_prefix: modelLibURLPrefix,
  model_list: prebuiltAppConfig.model_list,
}, null, 1));
console.log(`${prebuiltAppConfig.model_list.length} WebLLM ${pkg.version} records -> ${out.pathname}`);
