// A local-first task list on batpak in the browser: every change is an event on the "board"
// stream (appended with a CAS on its last sequence), the board is a projection of it, the
// history is the stream itself, and a live subscription re-renders on every event.
import { BrowserStore, Coordinate, EventKind, Region } from "/dist/batpak.browser.js";

const ADDED = EventKind.custom(1, 1);
const DONE = EventKind.custom(1, 2);
const REOPENED = EventKind.custom(1, 3);
const REMOVED = EventKind.custom(1, 4);
const NAMES = { [ADDED]: "added", [DONE]: "done", [REOPENED]: "reopened", [REMOVED]: "removed" };
const BOARD = new Coordinate("board", "tasks");

/** The board: task id -> { title, done }, folded from the events. */
const board = {
  initial: () => ({}),
  apply(tasks, e) {
    const { id, title } = e.payload;
    if (e.kind === ADDED) return { ...tasks, [id]: { title, done: false } };
    if (!(id in tasks)) return tasks;
    if (e.kind === REMOVED) {
      const { [id]: _, ...rest } = tasks;
      return rest;
    }
    return { ...tasks, [id]: { ...tasks[id], done: e.kind === DONE } };
  },
};

const $ = (id) => document.getElementById(id);
const store = await BrowserStore.open({ name: "demo-tasks", lockWaitMs: 2_000 });

async function change(kind, payload) {
  // Optimistic concurrency: the change applies to the board as we last saw it.
  const expectedSequence = await store.lastSequence("board");
  await store.append(BOARD, kind, payload, { expectedSequence });
  await store.durable();
}

async function render() {
  const tasks = (await store.project("board", board)) ?? {};
  const list = $("tasks");
  list.replaceChildren();
  for (const [id, task] of Object.entries(tasks)) {
    const li = document.createElement("li");
    li.className = task.done ? "done" : "";
    li.dataset.id = id;
    const box = Object.assign(document.createElement("input"), {
      type: "checkbox",
      checked: task.done,
    });
    box.onchange = () => change(box.checked ? DONE : REOPENED, { id });
    const remove = Object.assign(document.createElement("button"), {
      textContent: "x",
      title: "remove",
    });
    remove.onclick = () => change(REMOVED, { id });
    li.append(
      box,
      Object.assign(document.createElement("span"), { textContent: task.title }),
      remove,
    );
    list.append(li);
  }
  const all = Object.values(tasks);
  $("summary").textContent = `${all.filter((t) => t.done).length} of ${all.length} done`;
}

function addHistory(e) {
  const li = document.createElement("li");
  const time = new Date(e.timestampMs).toLocaleTimeString();
  li.textContent = `#${e.sequence} ${time} ${NAMES[e.kind]} ${e.payload.title ?? e.payload.id}` +
    `  ${e.eventHash.slice(0, 12)}`;
  $("history").append(li);
}

$("add").onsubmit = async (event) => {
  event.preventDefault();
  const title = $("title").value.trim();
  if (!title) return;
  $("title").value = "";
  await change(ADDED, { id: crypto.randomUUID().slice(0, 8), title });
};

$("verify").onclick = async () => {
  const report = await store.verify();
  const d = await store.diagnostics();
  $("verdict").className = report.ok ? "ok" : "bad";
  $("verdict").textContent =
    `${report.ok ? "ok" : "PROBLEMS"}: ${report.eventsChecked} events checked, ` +
    `hash chain intact\n${d.segments} segment(s), opened by ${d.openReport.path} in ` +
    `${d.openReport.elapsedMs.toFixed(1)} ms` +
    report.problems.map((p) => `\n${p.file}@${p.offset}: ${p.message}`).join("");
};

// Live: the whole history, then every new event as it is appended.
(async () => {
  for await (const e of store.subscribe(Region.scope("tasks"))) {
    addHistory(e);
    await render();
  }
})();
await render();
document.body.dataset.ready = "true";
