// A strict little XML well-formedness check for the SVG files mcl bench
// writes: one root element, every tag closed in order, attributes quoted and
// not repeated, no raw '<' or stray '&' in text or attribute values.

const name = '[A-Za-z_][\\w.:-]*';
const tagRe = new RegExp(`<(/?)(${name})((?:\\s+${name}="[^"<]*")*)\\s*(/?)>`, 'y');
const attrRe = new RegExp(`(${name})="([^"<]*)"`, 'g');
const badAmp = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

/** Returns null if `xml` is well-formed, else what is wrong. */
export function xmlProblem(xml: string): string | null {
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const text = xml.slice(pos, lt < 0 ? xml.length : lt);
    if (badAmp.test(text)) return `stray & in text near ${JSON.stringify(text.slice(0, 40))}`;
    if (stack.length === 0 && text.trim() !== '') return `text outside the root: ${JSON.stringify(text.slice(0, 40))}`;
    if (lt < 0) break;
    tagRe.lastIndex = lt;
    const m = tagRe.exec(xml);
    if (!m) return `malformed tag at ${lt}: ${JSON.stringify(xml.slice(lt, lt + 60))}`;
    const [, closing, tag, attrs, selfClosing] = m;
    const seen = new Set<string>();
    for (const a of attrs!.matchAll(attrRe)) {
      if (seen.has(a[1]!)) return `attribute ${a[1]} repeated in <${tag}>`;
      seen.add(a[1]!);
      if (badAmp.test(a[2]!)) return `stray & in attribute ${a[1]} of <${tag}>`;
    }
    if (closing) {
      if (stack.pop() !== tag) return `</${tag}> closes nothing open`;
    } else {
      if (stack.length === 0 && ++roots > 1) return 'more than one root element';
      if (!selfClosing) stack.push(tag!);
    }
    pos = tagRe.lastIndex;
  }
  return stack.length ? `<${stack.at(-1)}> is never closed` : roots === 1 ? null : 'no root element';
}
