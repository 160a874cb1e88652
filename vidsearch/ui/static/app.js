// vidsearch's page: search, a grid of hits with thumbnails, each hit played in the page at its time.
// Plain JavaScript for current browsers; every request carries the token the server printed.
"use strict";

const token = document.querySelector('meta[name="vidsearch-token"]').content;
const $ = (id) => document.getElementById(id);
const state = { like: null, hits: [], playing: null };

// Codecs (as the index names them) and a type string a browser can say "maybe"/"probably" to.
const CODEC_TYPES = {
  h264: 'video/mp4; codecs="avc1.42E01E"',
  hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  av1: 'video/mp4; codecs="av01.0.05M.08"',
  vp9: 'video/webm; codecs="vp9"',
  vp8: 'video/webm; codecs="vp8"',
  theora: 'video/ogg; codecs="theora"',
  mpeg4: 'video/mp4; codecs="mp4v.20.8"',
};

function url(path, params = {}) {
  const u = new URL(path, location.origin);
  u.searchParams.set("token", token);
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) {
      if (v !== undefined && v !== null && v !== "") u.searchParams.append(key, v);
    }
  }
  return u.toString();
}

function browserPlays(codec) {
  if (!codec) return true; // unknown: let the browser try
  const type = CODEC_TYPES[codec];
  return Boolean(type) && document.createElement("video").canPlayType(type) !== "";
}

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// ---- the search controls ------------------------------------------------------------------
async function loadInfo() {
  const response = await fetch(url("/api/info"));
  if (!response.ok) return;
  const info = await response.json();
  const roots = info.roots.map((r) => r.path);
  const holder = $("controls");
  for (const control of info.controls) holder.append(controlInput(control, roots));
  if (!info.moments) say("The index is empty: run vidsearch index FOLDER first.", true);
  else if (info.thumbnails < info.moments)
    say(`${info.moments - info.thumbnails} of ${info.moments} moments have no thumbnail yet: vidsearch index makes them.`);
}

// One control from the server's list: a labelled input whose name is the SearchOptions field.
function controlInput(control, roots) {
  const label = document.createElement("label");
  label.className = "control";
  label.title = control.help;
  label.append(control.label + " ");
  const input = document.createElement("input");
  input.name = control.field;
  input.dataset.control = control.field;
  input.type = { date: "date", number: "number" }[control.kind] || "text";
  if (control.kind === "path") {
    const list = document.createElement("datalist");
    list.id = "list-" + control.field;
    for (const root of roots) list.append(new Option(root));
    label.append(list);
    input.setAttribute("list", list.id);
    input.placeholder = "any folder";
  } else {
    input.placeholder = control.many ? "a, b" : "";
  }
  label.append(input);
  return label;
}

function controlValues() {
  const values = {};
  for (const input of document.querySelectorAll("[data-control]")) {
    const raw = input.value.trim();
    if (!raw) continue;
    // a "path" value may hold commas; other repeatable controls take a list "a, b"
    const many = input.type === "text" && !input.getAttribute("list");
    values[input.name] = many ? raw.split(",").map((v) => v.trim()).filter(Boolean) : [raw];
  }
  return values;
}

// ---- searching ----------------------------------------------------------------------------
async function search(event) {
  if (event) event.preventDefault();
  const q = $("q").value.trim();
  if (!q && !state.like && !controlValues().exclude) {
    say('Say what to look for, e.g. "a dog on a beach".');
    return;
  }
  const params = { q, limit: $("limit").value, explain: 1, ...controlValues() };
  if ($("weak").checked) params.min_match = 0;
  if (state.like) Object.assign(params, { like: state.like.id, like_start: state.like.start, like_end: state.like.end });
  say("Searching…");
  $("go").disabled = true;
  try {
    const response = await fetch(url("/api/find", params));
    const answer = await response.json();
    if (!response.ok) {
      say(answer.error || `the search failed (${response.status})`, true);
      return;
    }
    showHits(answer);
  } catch (error) {
    say(`the search failed: ${error}`, true);
  } finally {
    $("go").disabled = false;
  }
}

function showHits(answer) {
  state.hits = answer.hits;
  const grid = $("hits");
  grid.replaceChildren(...answer.hits.map(card));
  const lines = $("reading-lines");
  lines.replaceChildren(...answer.explanation.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
  $("reading").hidden = answer.explanation.length === 0;
  const what = answer.query ? `“${answer.query}”` : "the reference";
  if (answer.hits.length) say(`${answer.hits.length} moments for ${what}, best first. Click a picture to play it.`);
  else say(`Nothing matches ${what}` + ($("weak").checked ? "." : '; tick "weaker matches too" to see the closest moments.'));
}

function card(hit, index) {
  const item = $("hit-card").content.firstElementChild.cloneNode(true);
  item.dataset.id = hit.id;
  item.dataset.start = hit.start;
  item.dataset.end = hit.end;
  const still = item.querySelector(".still");
  if (hit.thumbnail) still.src = url(`/api/still/${hit.id}`);
  else item.querySelector(".picture").classList.add("missing");
  item.querySelector(".span").textContent = `${hit.start_time}–${hit.end_time}`;
  item.querySelector(".name").textContent = `${index + 1}. ${hit.name}`;
  item.querySelector(".name").title = hit.path;
  const match = hit.match !== undefined ? ` · match ${hit.match}` : "";
  const offline = hit.available === false ? " · offline" : "";
  item.querySelector(".numbers").textContent = `score ${hit.score.toFixed(3)}${match}${offline}`;
  if (hit.strip_frames > 1) hoverStrip(item, hit);
  item.querySelector(".picture").addEventListener("click", () => play(hit));
  item.querySelector(".more").addEventListener("click", () => likeThis(hit, true));
  item.querySelector(".but").addEventListener("click", () => likeThis(hit, false));
  item.querySelector(".external").addEventListener("click", () => openExternally(hit));
  item.querySelector(".why").addEventListener("click", () => {
    const box = item.querySelector(".explain");
    box.textContent = explainText(hit);
    box.hidden = !box.hidden;
  });
  if (hit.available === false) for (const b of item.querySelectorAll(".picture, .external")) b.disabled = true;
  return item;
}

// Moving the pointer across a picture steps through the moment's strip of frames.
function hoverStrip(item, hit) {
  const picture = item.querySelector(".picture");
  const strip = item.querySelector(".strip");
  const frames = hit.strip_frames;
  picture.addEventListener("mouseenter", () => {
    if (!strip.style.backgroundImage) {
      strip.style.backgroundImage = `url("${url(`/api/strip/${hit.id}`)}")`;
      strip.style.backgroundSize = `${frames * 100}% 100%`;
    }
    strip.hidden = false;
  });
  picture.addEventListener("mousemove", (event) => {
    const box = picture.getBoundingClientRect();
    const frame = Math.min(frames - 1, Math.max(0, Math.floor(((event.clientX - box.left) / box.width) * frames)));
    strip.style.backgroundPosition = `${(frame / (frames - 1)) * 100}% 0`;
  });
  picture.addEventListener("mouseleave", () => { strip.hidden = true; });
}

function explainText(hit) {
  const parts = [];
  if (hit.explain) parts.push(JSON.stringify(hit.explain, null, 1));
  if (hit.match !== undefined) parts.push(`match: ${hit.match} (0 unrelated, 1 as close as the query's own words)`);
  if (hit.cost) parts.push(`embedded from ${hit.cost.frames} frames` + (hit.cost.budget ? `: ${hit.cost.budget}` : ""));
  return parts.join("\n") || "no breakdown for this hit";
}

// ---- "more like this" and "like this but ..." ---------------------------------------------
function likeThis(hit, now) {
  state.like = hit;
  $("like").hidden = false;
  $("like-picture").src = hit.thumbnail ? url(`/api/still/${hit.id}`) : "";
  $("like-text").textContent = `like ${hit.name} ${hit.start_time}–${hit.end_time}` + (now ? "" : ", but…");
  $("q").value = "";
  $("q").placeholder = now ? "optional: what should differ" : 'what should differ, e.g. "at night", "without people"';
  if (now) search();
  else $("q").focus();
}

function clearLike() {
  state.like = null;
  $("like").hidden = true;
  $("q").placeholder = $("q").dataset.placeholder;
}

// ---- watching -----------------------------------------------------------------------------
function play(hit) {
  const viewer = $("viewer");
  const video = $("video");
  state.playing = hit;
  viewer.hidden = false;
  $("viewer-title").textContent = `${hit.name}  ${hit.start_time}–${hit.end_time}`;
  const note = $("viewer-note");
  note.hidden = browserPlays(hit.codec);
  note.textContent = `This browser may not play ${hit.codec || "this file's"} video; "open in player" plays the moment in your video player.`;
  let stopped = false;
  video.onloadedmetadata = () => {
    if (Math.abs(video.currentTime - hit.start) > 0.25) video.currentTime = hit.start;
    video.play().catch(() => {}); // a browser that refuses to autoplay leaves the controls to the user
  };
  // stop once at the moment's end; after that the user may play on
  video.ontimeupdate = () => {
    if (!stopped && video.currentTime >= hit.end) {
      stopped = true;
      video.pause();
    }
  };
  video.onerror = () => {
    note.hidden = false;
    note.textContent = `This browser cannot play this file (${hit.codec || "its codec"}). "open in player" plays the moment in your video player.`;
  };
  video.src = url(`/api/video/${hit.id}`) + `#t=${hit.start}`;
  viewer.scrollIntoView({ block: "nearest" });
}

function closeViewer() {
  const video = $("video");
  video.pause();
  video.removeAttribute("src");
  video.load();
  $("viewer").hidden = true;
  state.playing = null;
}

async function openExternally(hit) {
  const response = await fetch(url(`/api/play/${hit.id}`, { start: hit.start, end: hit.end }), { method: "POST" });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) say(`Opened ${hit.name} at ${hit.start_time} in ${answer.player}.`);
  else say(answer.error || `could not open a player (${response.status})`, true);
}

document.addEventListener("DOMContentLoaded", () => {
  $("q").dataset.placeholder = $("q").placeholder;
  $("search").addEventListener("submit", search);
  $("like-clear").addEventListener("click", clearLike);
  $("viewer-close").addEventListener("click", closeViewer);
  $("viewer-external").addEventListener("click", () => state.playing && openExternally(state.playing));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("viewer").hidden) closeViewer();
  });
  loadInfo();
});
