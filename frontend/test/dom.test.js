import assert from "node:assert/strict";
import { test } from "node:test";

import { el } from "../src/dom.js";

// A stand-in for the browser's document (node has none): an element with the properties el() looks for,
// recording attributes, listeners and children.
class FakeElement {
  constructor(tag) {
    this.tag = tag;
    Object.assign(this, { id: "", className: "", htmlFor: "", title: "", textContent: "", disabled: false, hidden: false, draggable: true });
    this.dataset = {};
    this.attributes = {};
    this.listeners = {};
    this.children = [];
  }

  setAttribute(name, value) {
    this.attributes[name] = value;
  }

  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }

  append(...nodes) {
    this.children.push(...nodes);
  }
}

globalThis.document = { createElement: (tag) => new FakeElement(tag) };

test("properties are set as properties; class and for are their attribute names", () => {
  const a = el("label", { class: "button", for: "f", id: "x" });
  const b = el("label", { className: "button", htmlFor: "f", id: "x" });
  for (const node of [a, b]) {
    assert.equal(node.className, "button");
    assert.equal(node.htmlFor, "f");
    assert.equal(node.id, "x");
    assert.deepEqual(node.attributes, {});
  }
});

test("a boolean property takes false; an attribute-only name with false is left out", () => {
  const img = el("img", { draggable: false, hidden: true, disabled: false, novalidate: false, title: false });
  assert.equal(img.draggable, false);
  assert.equal(img.hidden, true);
  assert.equal(img.disabled, false);
  assert.equal(img.title, "", "a non-boolean property is not set to false");
  assert.deepEqual(img.attributes, {});
  assert.deepEqual(el("form", { novalidate: true }).attributes, { novalidate: "" });
});

test("aria, data, other attribute names and value are set as attributes, as strings", () => {
  const node = el("input", { "aria-pressed": "true", "data-video": 7, maxlength: 200, value: 0.5, type: undefined, step: null });
  assert.deepEqual(node.attributes, { "aria-pressed": "true", "data-video": "7", maxlength: "200", value: "0.5" });
});

test("text, dataset and listeners", () => {
  const clicked = [];
  const node = el("button", { text: "Go", dataset: { hit: "3" }, onclick: () => clicked.push(1) });
  assert.equal(node.textContent, "Go");
  assert.deepEqual(node.dataset, { hit: "3" });
  node.listeners.click();
  assert.deepEqual(clicked, [1]);
});

test("children may be listed or given as arrays; null, undefined and false are skipped", () => {
  const child = el("span");
  assert.deepEqual(el("p", {}, "a", null, child, undefined, false, "").children, ["a", child, ""]);
  assert.deepEqual(el("div", {}, [child, null, ["b"]]).children, [child, "b"]);
  assert.deepEqual(el("br").children, []);
});
