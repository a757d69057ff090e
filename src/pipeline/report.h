// The evidence of one `hqp compress` run: report.json (every figure, the whole pruning trajectory,
// the layer sensitivities, the exact command and versions) and report.html, one self-contained page
// (no network: inline CSS, the JSON embedded, charts drawn as inline SVG by an inline script) --
// accuracy against latency along the pruning path, channels kept per layer, per-layer quantization
// sensitivity, the baseline table and the before / after summary.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/compress.h"

namespace hqp::pipeline {

// Where the run came from (what the library cannot know).
struct ReportContext {
  std::string command;                         // the exact command line
  std::string model;                           // input model path
  std::string output;                          // output model path
  std::string data;                            // dataset name or path
  std::map<std::string, std::string> versions; // e.g. {"hqp": "0.1.0", "backend": "oneDNN 2.6.3 (OpenMP)"}
  std::string created;                         // UTC time, ISO 8601
};

// report.json's text (format "hqp-compress-report", version 1).
std::string report_json(const CompressOutcome& outcome, const CompressConfig& config, const ReportContext& context);

// report.html's text for a report.json text: the JSON is embedded (with "</" escaped so that no
// string can close the script element) and rendered by the page's own script. The page sets
// data-rendered="ok" on <body> when every chart is drawn, or shows the error in #errors.
std::string report_html(const std::string& report_json_text);

// The baselines' models go into DIR/baselines/ (report.json's baselines[i].file, relative to DIR).
inline constexpr const char* kBaselineDir = "baselines";

// Writes each of outcome.baseline_models to DIR/baselines/<baseline_file_name(name)> (each
// atomically; nothing when there are none), so that they can be timed or evaluated later.
Status write_baseline_models(const std::string& dir, const CompressOutcome& outcome);

// Writes DIR/report.json and DIR/report.html (each atomically; DIR is created).
Status write_report(const std::string& dir, const std::string& report_json_text);

}  // namespace hqp::pipeline
