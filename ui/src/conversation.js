// The conversation on screen, as history records it: what kind it is, its title, the document
// it is about, and the sampling options its answers were actually written with. One owner, so
// a summary's record says what the summary used, not what the settings say.

/** The sampling a summary always uses (summarize.js): greedy, so a summary is repeatable. */
export const SUMMARY_SAMPLING = { temperature: 0, top_p: 1 };

/** Greedy, with the settings' penalty against the loops greedy decoding falls into. */
export function summarySampling(settings) {
  return { ...SUMMARY_SAMPLING, frequency_penalty: settings.summary_frequency_penalty ?? 0 };
}

export class Conversation {
  constructor() {
    this.begin();
  }

  /** A new conversation: a chat unless said otherwise. */
  begin({ kind = 'chat', title = null, documentName = null, sampling = null, document = null } = {}) {
    this.kind = kind;
    this.title = title;
    this.documentName = documentName;
    this.document = document; // a summary's document, while it is open: follow-ups can read it
    this.sampling = sampling; // null: the chat's, taken from the settings of the first answer
  }

  /** What history needs to create this conversation's record (history.js `record`). */
  record(model, settings) {
    const { temperature, top_p, max_tokens, frequency_penalty, presence_penalty } = settings;
    return {
      title: this.title,
      kind: this.kind,
      model,
      documentName: this.documentName,
      sampling: this.sampling || { temperature, top_p, max_tokens, frequency_penalty, presence_penalty },
    };
  }
}
