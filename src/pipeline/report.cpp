// report.json and report.html of `hqp compress`.
#include "pipeline/report.h"

#include <filesystem>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "onnx/export.h"

namespace hqp::pipeline {

namespace {

using json = nlohmann::json;

json figures_json(const ModelFigures& f) {
  json j = {{"name", f.name},           {"int8", f.int8},         {"val_top1", f.val_top1},
            {"latency_ms", f.latency_ms}, {"bytes", f.bytes},     {"macs", f.macs},
            {"params", f.params},       {"seconds", f.seconds},   {"steps_kept", f.steps_kept},
            {"kept_float", f.kept_float}, {"within_bound", f.within_bound}};
  j["test_top1"] = f.test_top1 >= 0.0 ? json(f.test_top1) : json(nullptr);
  return j;
}

json step_json(const pruner::StepRecord& r) {
  return {{"attempt", r.attempt},
          {"accepted", r.accepted},
          {"step", r.step},
          {"channels_removed", r.channels_removed},
          {"macs", r.macs},
          {"params", r.params},
          {"val_top1", r.val_top1},
          {"float_val_top1", r.float_val_top1 >= 0.0 ? json(r.float_val_top1) : json(nullptr)},
          {"latency_ms", r.accepted ? json(r.latency_ms) : json(nullptr)},
          {"seconds", r.seconds},
          {"channels", r.channels}};
}

// JSON text safe inside <script>: "</" can never close the element, U+2028/9 are escaped by dump's
// ensure_ascii.
std::string script_safe(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' ) {
      out += "\\u003c";
    } else {
      out += text[i];
    }
  }
  return out;
}

constexpr std::string_view kPage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hqp compress report</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
.meta { color: #555; font-size: 12px; word-break: break-all; } .good { color: #0a7d32; font-weight: 600; } .bad { color: #b00020; font-weight: 600; }
svg { background: #fcfcfc; border: 1px solid #e4e4e4; } .legend { font-size: 12px; color: #444; }
#errors { color: #b00020; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>hqp compress report</h1>
<div class="meta" id="meta"></div>
<pre id="errors"></pre>
<h2>Before / after</h2>
<table id="summary"></table>
<h2>Compared with single techniques (same bound, same fine-tuning budget)</h2>
<table id="baselines"></table>
<h2>Accuracy against latency along the pruning path</h2>
<div class="legend">val top-1 of each kept step (the deployed model: INT8 for target int8) against its measured latency; the original float model and the final model marked.</div>
<svg id="chart-path" width="1000" height="360"></svg>
<h2>Pruning trajectory</h2>
<table id="steps"></table>
<h2>Channels kept per layer</h2>
<div class="legend">grey: original output channels of every Conv / Gemm; blue: kept in the final model.</div>
<svg id="chart-channels" width="1000" height="320"></svg>
<h2>Per-layer quantization sensitivity</h2>
<div class="legend" id="sens-legend">val top-1 regained (percentage points) when the layer alone stays float, on the final pruned model.</div>
<svg id="chart-sensitivity" width="1000" height="320"></svg>
<script id="report-data" type="application/json">@DATA@</script>
<script>
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const R = JSON.parse(document.getElementById("report-data").textContent);
  const pct = (x) => (x === null || x === undefined || x < 0) ? "-" : (100 * x).toFixed(2) + " %";
  const mb = (b) => (b / 1e6).toFixed(2) + " MB";
  const mmacs = (m) => (m / 1e6).toFixed(2) + " M";
  const el = (tag, attrs, parent, text) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  };
  const row = (table, cells, header) => {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement(header ? "th" : "td");
      if (c && typeof c === "object") { td.textContent = c.text; td.className = c.cls; } else { td.textContent = c; }
      tr.appendChild(td);
    }
    table.appendChild(tr);
  };
  function axes(svg, x0, x1, y0, y1, xlabel, ylabel) {
    const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
    const L = 70, B = 45, T = 15, Rm = 20;
    const sx = (x) => L + (x - x0) / ((x1 - x0) || 1) * (W - L - Rm);
    const sy = (y) => H - B - (y - y0) / ((y1 - y0) || 1) * (H - B - T);
    el("line", {x1: L, y1: H - B, x2: W - Rm, y2: H - B, stroke: "#888"}, svg);
    el("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#888"}, svg);
    for (let i = 0; i <= 4; ++i) {
      const xv = x0 + (x1 - x0) * i / 4, yv = y0 + (y1 - y0) * i / 4;
      el("text", {x: sx(xv), y: H - B + 16, "text-anchor": "middle", "font-size": 11}, svg, xv.toPrecision(3));
      el("text", {x: L - 6, y: sy(yv) + 4, "text-anchor": "end", "font-size": 11}, svg, yv.toPrecision(4));
      el("line", {x1: L, y1: sy(yv), x2: W - Rm, y2: sy(yv), stroke: "#eee"}, svg);
    }
    el("text", {x: (L + W - Rm) / 2, y: H - 8, "text-anchor": "middle", "font-size": 12}, svg, xlabel);
    el("text", {x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12,
                transform: "rotate(-90 14 " + (T + H - B) / 2 + ")"}, svg, ylabel);
    return {sx, sy};
  }
  function bars(svg, labels, series, colors, ylabel) {
    const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
    const L = 70, B = 90, T = 15, Rm = 20;
    let ymax = 0;
    for (const s of series) for (const v of s) ymax = Math.max(ymax, v);
    if (!(ymax > 0)) ymax = 1;
    const n = labels.length, bw = (W - L - Rm) / Math.max(n, 1);
    const sy = (y) => H - B - y / ymax * (H - B - T);
    el("line", {x1: L, y1: H - B, x2: W - Rm, y2: H - B, stroke: "#888"}, svg);
    for (let i = 0; i <= 4; ++i) {
      const yv = ymax * i / 4;
      el("text", {x: L - 6, y: sy(yv) + 4, "text-anchor": "end", "font-size": 11}, svg, yv.toPrecision(3));
      el("line", {x1: L, y1: sy(yv), x2: W - Rm, y2: sy(yv), stroke: "#eee"}, svg);
    }
    labels.forEach((lab, i) => {
      series.forEach((s, k) => {
        const v = Math.max(0, s[i]);
        const r = el("rect", {x: L + i * bw + bw * 0.1, y: sy(v), width: Math.max(1, bw * 0.8), height: H - B - sy(v),
                              fill: colors[k], "class": "bar"}, svg);
        el("title", {}, r, lab + ": " + s[i]);
      });
      if (n <= 80) {
        const x = L + i * bw + bw / 2;
        el("text", {x: x, y: H - B + 8, "font-size": 9, "text-anchor": "end", transform: "rotate(-60 " + x + " " + (H - B + 8) + ")"}, svg, lab);
      }
    });
    el("text", {x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12,
                transform: "rotate(-90 14 " + (T + H - B) / 2 + ")"}, svg, ylabel);
  }
  try {
    const o = R.original, f = R.result;
    document.getElementById("meta").textContent =
      "model " + R.model + " -> " + R.output + " | data " + R.data + " | target " + R.config.target +
      " | --max-drop " + R.config.max_drop + " pp | " + R.created + " | " +
      Object.entries(R.versions).map(([k, v]) => k + " " + v).join(", ") + " | command: " + R.command;
    const S = document.getElementById("summary");
    row(S, ["", "original (float)", "compressed (" + (f.int8 ? "INT8" : "FP32") + ")", "change"], true);
    const drop = (a, b) => (a === null || b === null || a < 0 || b < 0) ? "-" : ((a - b) * 100).toFixed(2) + " pp";
    const within = R.summary.val_drop_pp <= R.config.max_drop + 1e-9;
    row(S, ["val top-1", pct(o.val_top1), pct(f.val_top1), {text: "drop " + drop(o.val_top1, f.val_top1), cls: within ? "good" : "bad"}]);
    row(S, ["test top-1", pct(o.test_top1), pct(f.test_top1), "drop " + drop(o.test_top1, f.test_top1)]);
    row(S, ["latency (batch 1, " + R.config.threads + " threads)", o.latency_ms.toFixed(3) + " ms", f.latency_ms.toFixed(3) + " ms",
            {text: R.summary.speedup.toFixed(2) + "x faster", cls: R.summary.speedup > 1 ? "good" : "bad"}]);
    row(S, ["file size", mb(o.bytes), mb(f.bytes), (100 * (1 - f.bytes / o.bytes)).toFixed(1) + " % smaller"]);
    row(S, ["MACs", mmacs(o.macs), mmacs(f.macs), (f.macs / o.macs).toFixed(3) + "x"]);
    row(S, ["params", mmacs(o.params), mmacs(f.params), (f.params / o.params).toFixed(3) + "x"]);

    const Bt = document.getElementById("baselines");
    row(Bt, ["model", "val top-1", "test top-1", "latency", "speedup", "size", "MACs", "steps kept", "wall time"], true);
    const all = [o].concat(R.baselines, [f]);
    for (const m of all) {
      row(Bt, [m.name + (m.int8 ? " (INT8)" : " (FP32)"), pct(m.val_top1), pct(m.test_top1), m.latency_ms.toFixed(3) + " ms",
               (o.latency_ms / m.latency_ms).toFixed(2) + "x", mb(m.bytes), mmacs(m.macs), m.steps_kept,
               m.seconds.toFixed(0) + " s"]);
    }

    const steps = R.pruning.steps;
    const kept = steps.filter((s) => s.accepted);
    const pts = [{x: o.latency_ms, y: 100 * o.val_top1, label: "original", c: "#555"}];
    kept.forEach((s) => pts.push({x: s.latency_ms, y: 100 * s.val_top1, label: "step " + (s.attempt + 1), c: "#1f6fd1"}));
    pts.push({x: f.latency_ms, y: 100 * f.val_top1, label: "final", c: "#0a7d32"});
    const svgP = document.getElementById("chart-path");
    const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y).concat([100 * o.val_top1 - R.config.max_drop]);
    const ax = axes(svgP, 0, Math.max(...xs) * 1.05, Math.min(...ys) - 0.5, Math.max(...ys) + 0.3, "latency (ms, batch 1)", "val top-1 (%)");
    const yb = 100 * o.val_top1 - R.config.max_drop;
    el("line", {x1: ax.sx(0), y1: ax.sy(yb), x2: ax.sx(Math.max(...xs) * 1.05), y2: ax.sy(yb), stroke: "#b00020", "stroke-dasharray": "5,4"}, svgP);
    el("text", {x: ax.sx(0) + 6, y: ax.sy(yb) - 5, "font-size": 11, fill: "#b00020"}, svgP, "bound: original - " + R.config.max_drop + " pp");
    let d = "";
    kept.forEach((s, i) => { d += (i ? " L " : "M ") + ax.sx(s.latency_ms) + " " + ax.sy(100 * s.val_top1); });
    if (d) el("path", {d: d, fill: "none", stroke: "#1f6fd1", "stroke-width": 1.5}, svgP);
    for (const p of pts) {
      const c = el("circle", {cx: ax.sx(p.x), cy: ax.sy(p.y), r: 5, fill: p.c, "class": "point"}, svgP);
      el("title", {}, c, p.label + ": " + p.x.toFixed(3) + " ms, " + p.y.toFixed(2) + " %");
    }

    const St = document.getElementById("steps");
    row(St, ["step", "", "channels removed", "MACs", "params", "val top-1", "float val top-1", "latency", "wall"], true);
    for (const s of steps) {
      row(St, [s.attempt + 1, {text: s.accepted ? "kept" : "rolled back", cls: s.accepted ? "good" : "bad"}, s.channels_removed,
               mmacs(s.macs), mmacs(s.params), pct(s.val_top1), pct(s.float_val_top1),
               s.latency_ms === null ? "-" : s.latency_ms.toFixed(3) + " ms", s.seconds.toFixed(0) + " s"]);
    }
    if (steps.length === 0) row(St, ["(no pruning step was attempted)"]);

    const layers = R.channels.layers;
    bars(document.getElementById("chart-channels"), layers.map((l) => l.node),
         [layers.map((l) => l.before), layers.map((l) => l.after)], ["#cfcfcf", "#1f6fd1"], "output channels");

    const sens = R.quantization.sensitivity;
    if (sens.length === 0) {
      document.getElementById("sens-legend").textContent = "Not measured (target fp32, or run without --sensitivity).";
    }
    bars(document.getElementById("chart-sensitivity"), sens.map((s) => s.node), [sens.map((s) => s.gain_pp)], ["#e08a00"],
         "pp regained when float");
    document.body.dataset.rendered = "ok";
  } catch (e) {
    document.getElementById("errors").textContent = "report rendering failed: " + e;
    document.body.dataset.rendered = "error";
  }
})();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string report_json(const CompressOutcome& o, const CompressConfig& c, const ReportContext& ctx) {
  json j;
  j["format"] = "hqp-compress-report";
  j["version"] = 1;
  j["command"] = ctx.command;
  j["model"] = ctx.model;
  j["output"] = ctx.output;
  j["data"] = ctx.data;
  j["versions"] = ctx.versions;
  j["created"] = ctx.created;
  j["config"] = {{"max_drop", c.max_drop},
                 {"target", std::string(target_name(c.target))},
                 {"criterion", std::string(prune::criterion_name(c.prune.criterion))},
                 {"cost", std::string(prune::cost_name(c.prune.cost))},
                 {"step", c.prune.step},
                 {"min_step", c.prune.min_step},
                 {"finetune_steps", c.prune.finetune_steps},
                 {"importance_batches", c.prune.importance_batches},
                 {"kd", c.prune.kd},
                 {"target_speedup", c.prune.target_speedup},
                 {"target_macs", c.prune.target_macs},
                 {"time_budget_s", c.prune.time_budget_s},
                 {"calibrator", std::string(quant::calibrator_name(c.quant.calibrator.method))},
                 {"calib_samples", c.quant.calib_samples},
                 {"qdq_style", std::string(quant::qdq_style_name(c.quant.style))},
                 {"baselines", c.baselines},
                 {"threads", c.threads},
                 {"seed", c.prune.seed},
                 {"latency_runs", c.latency_runs},
                 {"latency_rounds", c.latency_rounds}};
  j["original"] = figures_json(o.original);
  j["result"] = figures_json(o.result);
  j["baselines"] = json::array();
  for (size_t i = 0; i < o.baselines.size(); ++i) {
    json b = figures_json(o.baselines[i]);
    // Where write_baseline_models puts its model, relative to the report directory.
    if (i < o.baseline_models.size()) b["file"] = std::string(kBaselineDir) + "/" + baseline_file_name(o.baselines[i].name);
    j["baselines"].push_back(std::move(b));
  }
  const auto ratio = [](double a, double b) { return b > 0.0 ? a / b : 0.0; };
  json summary = {{"speedup", ratio(o.original.latency_ms, o.result.latency_ms)},
                  {"size_ratio", ratio(static_cast<double>(o.result.bytes), static_cast<double>(o.original.bytes))},
                  {"macs_ratio", ratio(static_cast<double>(o.result.macs), static_cast<double>(o.original.macs))},
                  {"params_ratio", ratio(static_cast<double>(o.result.params), static_cast<double>(o.original.params))},
                  {"val_drop_pp", (o.original.val_top1 - o.result.val_top1) * 100.0},
                  {"pruning_dropped", o.pruning_dropped},
                  {"seconds", o.seconds}};
  summary["test_drop_pp"] = o.original.test_top1 >= 0.0 && o.result.test_top1 >= 0.0
                                ? json((o.original.test_top1 - o.result.test_top1) * 100.0)
                                : json(nullptr);
  j["summary"] = summary;
  json steps = json::array();
  for (const pruner::StepRecord& r : o.prune.steps) steps.push_back(step_json(r));
  j["pruning"] = {{"stop_reason", o.prune.stop_reason},
                  {"baseline_val_top1", o.prune.baseline_val_top1},
                  {"latency_before_ms", o.prune.latency_before_ms},
                  {"macs_before", o.prune.macs_before},
                  {"macs_after", o.prune.macs_after},
                  {"seconds", o.prune.seconds},
                  {"steps", steps}};
  json layers = json::array();
  for (const std::string& n : o.layers) {
    const auto a = o.channels_after.find(n);
    layers.push_back({{"node", n},
                      {"before", o.channels_before.count(n) != 0 ? o.channels_before.at(n) : 0},
                      {"after", a != o.channels_after.end() ? a->second : 0}});
  }
  j["channels"] = {{"layers", layers}};
  json q = {{"kept_float", o.quant ? o.quant->kept_float : std::vector<std::string>{}},
            {"quant_only_kept_float", o.quant_only ? o.quant_only->kept_float : std::vector<std::string>{}}};
  q["sensitivity"] = json::array();
  if (o.quant) {
    for (const quantizer::LayerSensitivity& s : o.quant->sensitivity) {
      q["sensitivity"].push_back({{"node", s.node}, {"val_top1", s.val_top1}, {"gain_pp", s.gain_pp}});
    }
    q["float_val_top1"] = o.quant->float_val_top1;
    q["int8_val_top1"] = o.quant->int8_val_top1;
    q["calib_samples"] = o.quant->calib_samples;
  }
  j["quantization"] = q;
  j["latency_table"] = {{"estimate_ms", o.table_estimate_ms}, {"ms_per_work", o.latency_table}};
  return j.dump(1, ' ', true, json::error_handler_t::replace) + "\n";
}

std::string report_html(const std::string& report_json_text) {
  std::string page(kPage);
  const std::string marker = "@DATA@";
  page.replace(page.find(marker), marker.size(), script_safe(report_json_text));
  return page;
}

Status write_baseline_models(const std::string& dir, const CompressOutcome& outcome) {
  if (outcome.baseline_models.empty()) return Status();
  const std::filesystem::path sub = std::filesystem::path(dir) / kBaselineDir;
  std::error_code ec;
  std::filesystem::create_directories(sub, ec);
  if (ec) return make_error(StatusCode::kIoError, "cannot create directory '{}': {}", sub.string(), ec.message());
  for (size_t i = 0; i < outcome.baseline_models.size() && i < outcome.baselines.size(); ++i) {
    const std::string path = (sub / baseline_file_name(outcome.baselines[i].name)).string();
    const Status s = onnx_io::export_model_file(outcome.baseline_models[i], path);
    if (!s.ok()) {
      return make_error(s.code(), "cannot write the {} baseline's model '{}': {}", outcome.baselines[i].name, path,
                        s.message());
    }
  }
  return Status();
}

Status write_report(const std::string& dir, const std::string& report_json_text) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(StatusCode::kIoError, "cannot create report directory '{}': {}", dir, ec.message());
  const std::string jpath = (std::filesystem::path(dir) / "report.json").string();
  const std::string hpath = (std::filesystem::path(dir) / "report.html").string();
  HQP_RETURN_IF_ERROR(write_file_atomic(jpath, report_json_text, fmt::format("cannot write report '{}'", jpath)));
  return write_file_atomic(hpath, report_html(report_json_text), fmt::format("cannot write report '{}'", hpath));
}

}  // namespace hqp::pipeline
