// The hopid gallery: search state lives in the URL (/?q=...&k=...&dense=1 or /?like=PATH&k=...),
// results come from POST /api/results, images only from /thumb and /image of this server.
// A hit's `path` may hold lone surrogates (a file name that is not UTF-8): it is only shown, via
// shownName; what goes back to the server (URLs, `like`) is its `ref`, always valid UTF-8.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let current = { hits: [], entities: [], alpha: 0 };

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function imageUrl(kind, ref) {
  return `/${kind}?path=${encodeURIComponent(ref)}`;
}

function shownName(name) {
  // A name's bytes that are not UTF-8 (lone surrogates, or NUL+hex in a ref) as \xNN, as the CLI shows them.
  return name
    .replace(/[\udc80-\udcff]/g, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16).padStart(2, "0")}`)
    .replace(/\0([0-9a-f]{2})/g, "\\x$1");
}

function framed(hit, kind) {
  // The image with its OCR boxes drawn over it (boxes are normalised to the upright image).
  const figure = element("figure", { class: "framed" });
  const words = hit.ocr.map((w) => w.text);
  const alt = words.length ? `OCR words: ${words.join(" ")}` : "no scene text read";
  figure.append(element("img", { src: imageUrl(kind, hit.ref), alt, loading: "lazy" }));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 1 1");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  for (const word of hit.ocr) {
    const polygon = document.createElementNS(SVG, "polygon");
    const points = [];
    for (let i = 0; i < 8; i += 2) points.push(`${word.box[i]},${word.box[i + 1]}`);
    polygon.setAttribute("points", points.join(" "));
    if (word.matched) polygon.setAttribute("class", "matched");
    svg.append(polygon);
  }
  figure.append(svg);
  return figure;
}

function wordList(words, tag = "span") {
  const list = element("div", { class: "words" });
  words.forEach((word, i) => {
    if (i) list.append(" ");
    list.append(word.matched ? element("mark", {}, word.text) : element(tag, {}, word.text));
  });
  return list;
}

function scoreLine(hit) {
  const line = element("div", { class: "score" });
  line.append(`#${hit.rank} · ${hit.score.toFixed(3)} = `);
  line.append(element("span", { class: "dense", title: "dense (the model)" }, `dense ${hit.dense.toFixed(3)}`));
  line.append(` + ${current.alpha} × `);
  line.append(element("span", { class: "text", title: "scene-text match" }, `text ${hit.text.toFixed(3)}`));
  return line;
}

function render(results, label) {
  current = results;  // before drawing: the score lines read its alpha
  const list = $("results");
  list.replaceChildren();
  results.hits.forEach((hit, index) => {
    const item = element("li", {
      class: "result",
      tabindex: "0",
      "data-path": hit.path,
      "data-ref": hit.ref,
      "data-score": String(hit.score),
      "data-rank": String(hit.rank),
      "aria-label": `result ${hit.rank}: ${shownName(hit.path.split("/").pop())}, score ${hit.score.toFixed(3)}`,
    });
    item.append(framed(hit, "thumb"));
    const caption = element("div", { class: "caption" });
    caption.append(scoreLine(hit));
    if (hit.matched.length) {
      const matched = element("div", { class: "matched" }, "matched: ");
      hit.matched.forEach((word, i) => {
        if (i) matched.append(", ");
        matched.append(element("mark", {}, word));
      });
      caption.append(matched);
    }
    caption.append(wordList(hit.ocr));
    item.append(caption);
    item.addEventListener("click", () => openDetail(index));
    list.append(item);
  });
  $("status").textContent = `${results.hits.length} results for ${label}`;
  $("entities").textContent = results.entities.length
    ? `entity words in the query: ${results.entities.join(", ")}`
    : "";
}

async function fetchResults(body, label) {
  $("status").textContent = "searching…";
  try {
    const reply = await fetch("/api/results", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await reply.json();
    if (!reply.ok) throw new Error(data.error || reply.statusText);
    render(data, label);
  } catch (error) {
    $("results").replaceChildren();
    $("status").textContent = `error: ${error.message}`;
  }
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  const k = Number.parseInt(params.get("k") || "20", 10);
  if ([...$("k").options].some((o) => Number(o.value) === k)) $("k").value = String(k);
  $("q").value = params.get("q") || "";
  $("dense").checked = params.get("dense") === "1";
  const options = { k: Number($("k").value) };
  if (params.get("like")) {
    const like = params.get("like");
    fetchResults({ like, ...options }, `images like ${shownName(like.split("/").pop())}`);
  } else if ($("q").value.trim()) {
    fetchResults({ text: $("q").value, dense_only: $("dense").checked, ...options }, `“${$("q").value}”`);
  }
}

function go(params) {
  history.pushState(null, "", `/?${new URLSearchParams(params)}`);
  fromUrl();
}

function search(event) {
  event.preventDefault();
  const params = { q: $("q").value, k: $("k").value };
  if ($("dense").checked) params.dense = "1";
  go(params);
}

function moreLike(path) {
  if ($("detail").open) $("detail").close();
  go({ like: path, k: $("k").value });
}

function openDetail(index) {
  const hit = current.hits[index];
  $("detail-title").textContent = shownName(hit.path);
  $("detail-figure").replaceWith(Object.assign(framed(hit, "image"), { id: "detail-figure" }));
  $("detail-score").replaceChildren(scoreLine(hit), ` · ${hit.size[0]}×${hit.size[1]} px`);
  const entities = $("detail-entities");
  entities.replaceChildren(...(current.entities.length ? current.entities : ["(none)"]).map((e) => element("li", {}, e)));
  const words = $("detail-words");
  words.replaceChildren(
    ...(hit.ocr.length ? hit.ocr : [{ text: "(no scene text read)", confidence: null }]).map((word) => {
      const item = element("li");
      item.append(word.matched ? element("mark", {}, word.text) : word.text);
      if (word.confidence !== null) item.append(` (${word.confidence.toFixed(2)})`);
      return item;
    }),
  );
  $("detail-like").onclick = () => moreLike(hit.ref);
  $("detail").dataset.path = hit.path;
  $("detail").showModal();
  $("detail-close").focus();
}

function uploadImage() {
  const file = $("upload").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    history.pushState(null, "", "/");
    fetchResults({ image: String(reader.result), k: Number($("k").value) }, `the image ${file.name}`);
  };
  reader.readAsDataURL(file);
}

function keys(event) {
  if ($("detail").open || event.target.matches("input, select, textarea")) return;
  const items = [...document.querySelectorAll(".result")];
  const at = items.indexOf(document.activeElement);
  if (event.key === "/") {
    event.preventDefault();
    $("q").focus();
  } else if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(event.key) && items.length) {
    event.preventDefault();
    const step = event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : -1;
    items[Math.min(items.length - 1, Math.max(0, at + step))].focus();
  } else if (event.key === "Enter" && at >= 0) {
    event.preventDefault(); // else the same Enter presses the dialog's first button and closes it
    openDetail(at);
  } else if (event.key === "m" && at >= 0) {
    moreLike(items[at].dataset.ref);
  }
}

$("search").addEventListener("submit", search);
$("upload").addEventListener("change", uploadImage);
document.addEventListener("keydown", keys);
window.addEventListener("popstate", fromUrl);
fromUrl();
