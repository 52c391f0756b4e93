// The arena page: one matchup at a time, votes posted as JSON, the leaderboard refreshed after each.
"use strict";
const RATER_KEY = "diffevalArenaRater";
let current = null;
let busy = false;
let answered = 0;  // votes the server has answered, exposed as data-answered for tests and scripts

const $ = (id) => document.getElementById(id);

function voteId() {
  // crypto.randomUUID needs a secure context; getRandomValues works on a LAN address too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function setState(state) {
  document.body.dataset.state = state;
}

function text(tag, value, cls) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (cls) node.className = cls;
  return node;
}

async function loadMatchup() {
  setState("loading");
  const response = await fetch("api/matchup", {cache: "no-store"});
  if (!response.ok) {
    $("status").textContent = `cannot load a matchup (${response.status})`;
    return;
  }
  current = await response.json();
  const label = {prompt: "Prompt", class: "Class", edit: "Edit"}[current.kind] || "Prompt";
  $("condition").textContent = `${label}: ${current.text}`;
  $("detail").textContent = current.detail && current.detail.input ? `${current.detail.input} → ${current.detail.output}` : "";
  $("groups").textContent = current.groups.join(" · ");
  $("source").replaceChildren(...(current.source ? [Object.assign(document.createElement("img"), {src: current.source.slice(1), alt: "source image"})] : []));
  const figures = current.images.map((url, i) => {
    const figure = document.createElement("figure");
    figure.dataset.index = String(i);
    figure.append(Object.assign(document.createElement("img"), {src: url.slice(1), alt: `image ${i + 1}`}), text("figcaption", String(i + 1)));
    figure.addEventListener("click", () => vote("best", i));
    return figure;
  });
  $("images").replaceChildren(...figures);
  busy = false;
  setState("ready");
}

async function post(body) {
  // The same vote id on every try: the server stores a replayed vote once.
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch("api/vote", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
  }
}

async function vote(choice, index) {
  if (busy || !current || (choice === "best" && index >= current.shown.length)) return;
  busy = true;
  setState("voting");
  if (choice === "best") document.querySelectorAll("figure")[index].classList.add("picked");
  const body = {
    vote_id: voteId(), rater: $("rater").value.trim() || "anonymous", runs: current.runs,
    condition_id: current.condition_id, seed: current.seed, sample_index: current.sample_index,
    shown: current.shown, choice: choice, winner: choice === "best" ? current.shown[index] : null, matchup: current.matchup,
  };
  try {
    const response = await post(body);
    const reply = await response.json();
    $("status").textContent = response.ok ? `vote stored (${choice})` : `vote refused: ${reply.error}`;
    $("status").className = response.ok ? "" : "error";
    document.body.dataset.answered = String(++answered);
  } catch (err) {
    $("status").textContent = `vote not sent: ${err}`;
    $("status").className = "error";
  }
  // The next matchup first: refitting the leaderboard may take a moment and must not hold up the rater.
  await loadMatchup();
  await loadLeaderboard();
}

// Ratings and their bounds to one decimal; counts as they are; other numbers (metrics) to four digits.
const RATING_COLUMNS = ["rating", "ci_low", "ci_high"];

function fmt(value, column) {
  if (typeof value !== "number") return String(value ?? "–");
  if (RATING_COLUMNS.includes(column)) return value.toFixed(1);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

const fixed2 = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));

function table(rows, columns, id, caption) {
  const t = document.createElement("table");
  t.id = id;
  if (caption) t.append(text("caption", caption));
  const head = document.createElement("tr");
  columns.forEach((c) => head.append(text("th", c, typeof rows[0][c] === "string" ? "l" : "")));
  t.append(head);
  rows.forEach((row) => {
    const tr = document.createElement("tr");
    columns.forEach((c) => tr.append(text("td", fmt(row[c], c), typeof row[c] === "string" ? "l" : "")));
    t.append(tr);
  });
  return t;
}

const BOARD = ["rank", "model", "rating", "ci_low", "ci_high", "wins", "ties", "shown"];
// Then whatever else the rows carry: the automatic metrics, beside the overall boards.
const boardColumns = (board) => BOARD.concat(board.rows.length ? Object.keys(board.rows[0]).filter((c) => !BOARD.includes(c)) : []);

// Models never shown together fall into pools, each with a board of its own: ranks never cross pools.
const poolTitle = (b) => `pool ${b.pool} of ${b.pools} (${b.models.join(", ")})`;
const boardTitle = (b) => (b.pool ? `${b.group} · ${poolTitle(b)}` : b.group);
const boardId = (b) => `board-${b.group}` + (b.pool ? `-pool-${b.pool}` : "");

function boardNode(b, caption, minVotes) {
  return b.shown ? table(b.rows, boardColumns(b), boardId(b), caption)
    : text("p", `${caption}: ${b.n} of ${minVotes} votes needed for a leaderboard.`, "note");
}

let boardRequest = 0;

async function loadLeaderboard() {
  const mine = ++boardRequest;
  const response = await fetch("api/leaderboard", {cache: "no-store"});
  if (!response.ok) return;
  const data = await response.json();
  if (mine !== boardRequest) return;  // a later refresh is on its way: never show an older board over it
  $("count").textContent = `${data.votes} votes stored`;
  $("count").dataset.votes = String(data.votes);
  $("note").textContent = `${data.picks} picks, ${data.ties} ties, ${data.skips} skips. ${data.note} Ratings on the Elo scale with 95% bootstrap intervals over whole votes; a board needs ${data.min_votes} votes.`;
  const overall = data.boards.filter((b) => b.group === "all");
  const groups = data.boards.filter((b) => b.group !== "all");
  $("leaderboard").replaceChildren(...overall.map((b) => boardNode(b, b.pool ? `All votes · ${poolTitle(b)}` : "All votes", data.min_votes)));
  const pooled = data.agreement.some((r) => r.pool);
  $("agreement").replaceChildren(...(data.agreement.length ? [table(data.agreement.map((r) => ({...r, tau: fixed2(r.tau), ci_low: fixed2(r.ci_low), ci_high: fixed2(r.ci_high)})),
    ["metric", "tau", "ci_low", "ci_high", "models"].concat(pooled ? ["pool"] : []), "agreement-table", "Agreement with the automatic metrics (Kendall's τ)")] : []));
  $("groupboards").replaceChildren(...groups.map((b) => boardNode(b, boardTitle(b), data.min_votes)));
}

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  if (/^[1-4]$/.test(event.key)) vote("best", Number(event.key) - 1);
  else if (event.key === "t") vote("tie");
  else if (event.key === "s") vote("skip");
});
$("tie").addEventListener("click", () => vote("tie"));
$("skip").addEventListener("click", () => vote("skip"));
$("rater").value = localStorage.getItem(RATER_KEY) || "";
$("rater").addEventListener("input", () => localStorage.setItem(RATER_KEY, $("rater").value));
loadLeaderboard().then(loadMatchup);
