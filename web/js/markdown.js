// A small, safe Markdown renderer for model answers: the text is escaped first, then a few
// constructs (headings, lists, bold, italics, code, fenced blocks) are turned into HTML.

function escapeHTML(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function inline(text) {
  return escapeHTML(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_]+)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>");
}

export function renderMarkdown(source) {
  const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let list = null; // "ul" | "ol"
  let para = [];
  let fence = null;
  const closePara = () => {
    if (para.length) out.push(`<p>${para.map(inline).join("<br>")}</p>`);
    para = [];
  };
  const closeList = () => {
    if (list) out.push(`</${list}>`);
    list = null;
  };
  for (const line of lines) {
    if (fence !== null) {
      if (/^\s*```/.test(line)) { out.push(`<pre><code>${escapeHTML(fence.join("\n"))}</code></pre>`); fence = null; }
      else fence.push(line);
      continue;
    }
    if (/^\s*```/.test(line)) { closePara(); closeList(); fence = []; continue; }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*•]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (heading) {
      closePara(); closeList();
      const level = Math.min(6, heading[1].length + 2);
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
    } else if (bullet || numbered) {
      closePara();
      const kind = bullet ? "ul" : "ol";
      if (list !== kind) { closeList(); out.push(`<${kind}>`); list = kind; }
      out.push(`<li>${inline((bullet || numbered)[1])}</li>`);
    } else if (line.trim() === "") {
      closePara(); closeList();
    } else {
      closeList();
      para.push(line);
    }
  }
  if (fence !== null) out.push(`<pre><code>${escapeHTML(fence.join("\n"))}</code></pre>`);
  closePara(); closeList();
  return out.join("\n");
}

/**
 * Splits streamed raw text into answer and reasoning, for servers that pass MedGemma's
 * `<unused94>thought … <unused95>` block through in the deltas.
 */
export function splitReasoning(raw) {
  const start = raw.indexOf("<unused94>");
  if (start === -1) return { answer: raw, reasoning: "" };
  const end = raw.indexOf("<unused95>", start);
  let reasoning = end === -1 ? raw.slice(start + 10) : raw.slice(start + 10, end);
  reasoning = reasoning.replace(/^thought\s*/, "");
  const answer = raw.slice(0, start) + (end === -1 ? "" : raw.slice(end + 10));
  return { answer: answer.replace(/^\s+/, ""), reasoning };
}
