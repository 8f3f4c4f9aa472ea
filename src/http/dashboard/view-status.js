// The daemon (#/status): process, queue, running runs, the cpu-bound pool and upcoming fires.
import { api } from "./api.js";
import { runLink, taskLink } from "./components.js";
import { fmtUptime, h, replace, timeEl } from "./dom.js";

/** Renders the daemon's status into `main`, refreshed every 5 s and on run events; returns its cleanup. */
export async function statusView(main, ctx) {
  const box = h("div", {});
  const render = (s) => {
    const d = s.daemon;
    replace(box,
      h("div", { class: "grid2" },
        h("section", { class: "panel", "aria-labelledby": "proc" }, h("h2", { id: "proc" }, "Process"),
          h("dl", { class: "facts", id: "daemon-facts" },
            h("dt", {}, "pid"), h("dd", {}, String(d.pid)),
            h("dt", {}, "Host"), h("dd", {}, d.host),
            h("dt", {}, "Version"), h("dd", {}, d.version),
            h("dt", {}, "Up"), h("dd", {}, fmtUptime(d.uptimeMs), " (since ", timeEl(d.startedAt), ")"),
            h("dt", {}, "Config"), h("dd", { class: "mono" }, d.configFile),
            h("dt", {}, "Store"), h("dd", { class: "mono" }, d.store),
            h("dt", {}, "Broker"), h("dd", {}, d.broker),
            h("dt", {}, "Tasks"), h("dd", {}, String(d.tasks)),
            h("dt", {}, "Event-loop lag"), h("dd", {}, `${Math.round(s.eventLoopLagMs * 10) / 10} ms (p99)`),
            h("dt", {}, "Live clients"), h("dd", {}, String(s.sseClients)))),
        h("section", { class: "panel", "aria-labelledby": "queue" }, h("h2", { id: "queue" }, "Queue"),
          h("dl", { class: "facts" },
            h("dt", {}, "Ready"), h("dd", { id: "queue-ready" }, String(s.queue.ready)),
            h("dt", {}, "Delayed (retries)"), h("dd", {}, String(s.queue.delayed)),
            h("dt", {}, "Claimed"), h("dd", {}, String(s.queue.claimed)),
            h("dt", {}, "Running"), h("dd", {}, `${s.running.length} of ${d.concurrency} at once`)),
          s.running.length ? h("ul", {}, s.running.map((r) => h("li", {}, runLink(r), " ", taskLink(r.task), " started ", timeEl(r.startedAt)))) : null)),
      h("div", { class: "grid2" },
        h("section", { class: "panel", "aria-labelledby": "pool" }, h("h2", { id: "pool" }, "CPU pool"),
          s.pool ? h("dl", { class: "facts" }, Object.entries(s.pool).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))
            : h("p", { class: "muted" }, "No cpu-bound tasks: no pool.")),
        h("section", { class: "panel", "aria-labelledby": "upcoming" }, h("h2", { id: "upcoming" }, "Upcoming fires"),
          s.upcoming.length ? h("ol", {}, s.upcoming.map((u) => h("li", {}, taskLink(u.task), " ", timeEl(u.at)))) : h("p", { class: "muted" }, "No schedule fires ahead."))));
  };
  render(await api("/api/status"));
  replace(main, h("h1", {}, "Daemon"), box);
  const refresh = async () => render(await api("/api/status"));
  ctx.live.onAny(["run-queued", "run-start", "run-end"], refresh);
  const timer = setInterval(() => void refresh().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
