// The case page: live job panel. Other panels (footage, search) listen to the same events on document:
// "sightline:job" (one job event) and "sightline:state" (the reloaded list).

import { postJson } from "./http.js";
import { CaseSocket, socketUrl } from "./socket.js";
import { actionUrl, applyState, mergeJob, renderJobs } from "./jobs.js";

const STATUS_WORDS = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  stale: "offline",
  "not-found": "no access",
  stopped: "stopped",
};

function main() {
  const panel = document.getElementById("jobs-panel");
  if (!panel) return;
  const list = document.getElementById("jobs-list");
  const live = document.getElementById("live-status");
  const state = new Map();
  const allowed = (panel.dataset.actions ?? "").split(" ").filter(Boolean);
  const redraw = () => renderJobs(list, state, document, { allowed });

  const socket = new CaseSocket({
    url: socketUrl(window.location, panel.dataset.socketPath),
    stateUrl: panel.dataset.jobsUrl,
    onEvent(event) {
      if (mergeJob(state, event)) redraw();
      document.dispatchEvent(new CustomEvent("sightline:job", { detail: event }));
    },
    onState(payload) {
      if (applyState(state, payload)) redraw();
      document.dispatchEvent(new CustomEvent("sightline:state", { detail: payload }));
    },
    onStatus(status) {
      live.dataset.state = status;
      live.textContent = STATUS_WORDS[status] ?? status;
    },
  }).start();
  window.sightline = { ...(window.sightline ?? {}), socket, jobs: state };

  list.addEventListener("click", async (click) => {
    const button = click.target.closest("button[data-action]");
    if (!button) return;
    button.disabled = true;
    const template = panel.dataset[`${button.dataset.action}Url`];
    const { ok, payload } = await postJson(actionUrl(template, button.dataset.job));
    if (ok && mergeJob(state, payload)) redraw();
    else button.disabled = false;
  });

  const form = document.getElementById("selfcheck-form");
  if (form) {
    form.addEventListener("submit", async (submit) => {
      submit.preventDefault();
      const { ok, payload } = await postJson(form.action);
      if (ok && mergeJob(state, payload)) redraw();
    });
  }
}

main();
