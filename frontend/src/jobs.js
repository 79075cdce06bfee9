// Job state on the page: merge live events and reloaded rows (newest wins), and describe jobs in plain words.

const KIND_NAMES = {
  ingest: "Analysing footage",
  search: "Searching",
  selfcheck: "System check",
  export: "Preparing export",
};

const STAGE_NAMES = {
  database: "checking the database",
  storage: "checking storage",
  models: "loading the analysis models",
  inference: "testing the models",
  probe: "checking the file",
  transcode: "making a playable copy",
  analyse: "finding people",
  detect: "finding people",
  embed: "describing people",
  index: "saving the search index",
  cut: "cutting the evidence clip",
};

export function newer(a, b) {
  // True when event a is at least as new as b (ISO timestamps compare as strings only with equal offsets,
  // so compare as dates).
  if (!b) return true;
  if (!a.updated_at || !b.updated_at) return true;
  return Date.parse(a.updated_at) >= Date.parse(b.updated_at);
}

export function mergeJob(state, event) {
  const current = state.get(event.job);
  if (current && !newer(event, current)) return false;
  state.set(event.job, { ...current, ...event });
  return true;
}

export function applyState(state, payload) {
  let changed = false;
  for (const job of payload.jobs ?? []) changed = mergeJob(state, job) || changed;
  return changed;
}

export function sortedJobs(state) {
  return [...state.values()].sort((a, b) => b.job - a.job);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function describeJob(job) {
  const title = KIND_NAMES[job.kind] ?? job.kind;
  const percent = Math.round((job.progress ?? 0) * 100);
  let detail;
  switch (job.status) {
    case "queued":
      detail = "Waiting for a worker";
      break;
    case "running": {
      const stage = STAGE_NAMES[job.stage] ?? job.stage ?? "";
      const parts = [`${percent}%`, stage];
      if (job.eta_s) parts.push(`about ${formatDuration(job.eta_s)} left`);
      detail = parts.filter(Boolean).join(" · ");
      break;
    }
    case "done":
      detail = "Finished";
      break;
    case "failed":
      detail = job.error ?? "Failed";
      break;
    case "cancelled":
      detail = "Cancelled";
      break;
    default:
      detail = job.status;
  }
  return { title, detail, percent };
}

const ACTIONS = {
  cancel: { label: "Cancel", statuses: ["queued", "running"] },
  retry: { label: "Retry", statuses: ["failed", "cancelled"] },
};

// The actions a user may take on a job: `allowed` lists those the user's role permits.
export function jobActions(job, allowed = []) {
  return allowed.filter((name) => ACTIONS[name]?.statuses.includes(job.status));
}

export function actionUrl(template, jobId) {
  // Templates come from Django's url tag with job id 0, e.g. "/jobs/0/cancel/".
  return template.replace("/0/", `/${jobId}/`);
}

export function renderJobs(list, state, doc = globalThis.document, { allowed = [] } = {}) {
  const jobs = sortedJobs(state);
  list.replaceChildren();
  if (jobs.length === 0) {
    const empty = doc.createElement("li");
    empty.className = "muted empty-jobs";
    empty.textContent = "Nothing running. Uploads, analyses and searches show their progress here.";
    list.append(empty);
    return;
  }
  for (const job of jobs) {
    const { title, detail } = describeJob(job);
    const item = doc.createElement("li");
    item.className = "job";
    item.dataset.job = String(job.job);
    item.dataset.status = job.status;
    item.dataset.stage = job.stage ?? "";
    const line = doc.createElement("div");
    line.className = "job-line";
    const name = doc.createElement("strong");
    name.textContent = title;
    const status = doc.createElement("span");
    status.className = `status status-${job.status}`;
    status.textContent = detail;
    line.append(name, " ", status);
    const bar = doc.createElement("progress");
    bar.max = 1;
    bar.value = job.progress ?? 0;
    item.append(line, bar);
    for (const name of jobActions(job, allowed)) {
      const button = doc.createElement("button");
      button.type = "button";
      button.className = `job-action job-${name}`;
      button.dataset.action = name;
      button.dataset.job = String(job.job);
      button.textContent = ACTIONS[name].label;
      item.append(button);
    }
    list.append(item);
  }
}
