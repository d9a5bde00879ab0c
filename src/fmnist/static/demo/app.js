// The demo page: send an image to /similar (classes + similar items) and /explain (overlay), show both.
"use strict";

const $ = (id) => document.getElementById(id);
const SIMILAR_ITEMS = 8;

async function call(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try { detail = (await response.json()).detail; } catch (_) { /* not JSON: keep the status line */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return response;
}

function upload(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  return { method: "POST", body: form };
}

function showClasses(probabilities) {
  const top = Object.entries(probabilities).sort((a, b) => b[1] - a[1]).slice(0, 3);
  $("label").textContent = top[0][0];
  $("top-classes").replaceChildren(...top.map(([name, p]) => {
    const item = document.createElement("li");
    item.innerHTML = '<span class="name"></span><span class="bar"><span></span></span><span class="p"></span>';
    item.querySelector(".name").textContent = name;
    item.querySelector(".bar span").style.width = `${(100 * p).toFixed(1)}%`;
    item.querySelector(".p").textContent = `${(100 * p).toFixed(1)} %`;
    return item;
  }));
}

// why the image itself sends a tag to a person (the API's `image_check`: "ok", or the checks it fails)
const IMAGE_CHECKS = { cut_off: "the image's edge cuts the garment", grain: "the photo is grainy" };

function reviewReasons(prediction) {
  const checks = prediction.image_check === "ok" ? [] : prediction.image_check.split(", ");
  return [`runner-up: ${prediction.runner_up}`, ...checks.map((check) => IMAGE_CHECKS[check] ?? check)].join("; ");
}

function showReview(prediction) {
  $("review").textContent = prediction.needs_review ? "needs review" : "auto-tagged";
  $("review").className = prediction.needs_review ? "needs-review" : "auto-tagged";
}

function showSimilar(items) {
  $("similar").replaceChildren(...items.map((item) => {
    const entry = document.createElement("li");
    const picture = document.createElement("img");
    picture.src = item.thumbnail;
    picture.alt = item.title;
    const caption = document.createElement("span");
    caption.textContent = `${item.title} · ${item.similarity.toFixed(2)}`;
    entry.title = `id ${item.id}, class ${item.label}, cosine similarity ${item.similarity}`;
    entry.append(picture, caption);
    return entry;
  }));
}

async function analyse(blob, name) {
  $("preview").onload = () => $("preview").classList.toggle("tiny", $("preview").naturalWidth < 100);
  $("preview").src = URL.createObjectURL(blob);
  $("preview").hidden = false;
  $("status").textContent = `Looking at ${name}…`;
  $("status").className = "";
  try {
    const explanation = call("/explain?format=png", upload(blob, name)).then((r) => r.blob());
    const answer = await (await call(`/similar?k=${SIMILAR_ITEMS}`, upload(blob, name))).json();
    showClasses(answer.query.probabilities);
    showSimilar(answer.items);
    $("answer").hidden = $("neighbours").hidden = false;
    $("overlay").src = URL.createObjectURL(await explanation);
    showReview(answer.query);
    $("status").textContent = `${name}: ${answer.query.label}, ${(100 * answer.query.confidence).toFixed(1)} % sure; ` +
      (answer.query.needs_review ? `a person should check it (${reviewReasons(answer.query)}).` : "tagged automatically.");
  } catch (error) {
    $("status").textContent = `${name}: ${error.message}`;
    $("status").className = "error";
  }
}

async function randomItem() {
  try {
    const catalogue = await (await call("/catalogue")).json();
    const offset = Math.floor(Math.random() * catalogue.items);
    const [item] = (await (await call(`/catalogue/items?offset=${offset}&limit=1`)).json()).items;
    await analyse(await (await call(item.thumbnail)).blob(), item.title);
  } catch (error) {
    $("status").textContent = `Could not read the catalogue: ${error.message}`;
    $("status").className = "error";
  }
}

$("file").addEventListener("change", (event) => {
  const [file] = event.target.files;
  if (file) analyse(file, file.name);
});
$("random").addEventListener("click", randomItem);
for (const type of ["dragenter", "dragover"]) {
  $("drop").addEventListener(type, (event) => { event.preventDefault(); $("drop").classList.add("over"); });
}
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop").classList.remove("over");
  const [file] = event.dataTransfer.files;
  if (file) analyse(file, file.name);
});
call("/healthz").then((r) => r.json()).then((health) => {
  $("class-count").textContent = health.classes.length;
  $("class-names").textContent = health.classes.join(", ");
  const { size, channels, preprocessing } = health.input;
  if (preprocessing === "photo") {
    $("model-input").textContent = `${size} × ${size} ${channels === 3 ? "colour" : "gray"} pixels: a photo is ` +
      "kept in proportion on its own background and resized, as the model's training photos were";
  }
}).catch(() => {});
call("/catalogue").then((r) => r.json()).then((c) => {
  $("catalogue-size").textContent = `(${c.items.toLocaleString("en")} items, ${c.engine} search)`;
}).catch(() => {});
