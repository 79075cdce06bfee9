// Building DOM nodes, shared by every panel: el(tag, props, ...children).
//
// props: "text" sets textContent, "dataset" fills data-*, "on<event>" with a function adds a listener,
// "class" and "for" are the attribute names of className and htmlFor. A name the element has as a property
// (className, disabled, hidden, draggable) is set as the property, so a boolean false means false; any other name
// (aria-*, data-*, maxlength, novalidate) and "value" are set as attributes, so a form's reset and CSS
// selectors see them. null and undefined are left out; for an attribute-only name, false is too.
// Children may be nodes, strings, or arrays of them; null, undefined and false are skipped.

const ALIASES = { class: "className", for: "htmlFor" };

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    const name = ALIASES[key] ?? key;
    if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name !== "value" && name in node && (value !== false || typeof node[name] === "boolean")) node[name] = value;
    else if (value !== false) node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
