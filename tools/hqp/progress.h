// Terminal progress bar of the CLI's long-running commands (hqp train, hqp eval): one line on
// stderr, redrawn in place, with step counts, loss, accuracy, samples/s and ETA. Draws nothing
// when stderr is not a terminal (logs then get the commands' one-line-per-epoch summaries on
// stdout instead). Not thread-safe: call from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace hqp::cli {

// Whether stderr is a terminal (isatty); HQP_PROGRESS=0/1 in the environment overrides.
bool stderr_is_terminal();

// "0:07", "12:34", "1:02:03".
std::string format_duration(double seconds);

class ProgressBar {
 public:
  // enabled: draw at all (normally stderr_is_terminal()).
  explicit ProgressBar(bool enabled);
  // Erases the line, so that a following message (an error) starts on a clean line.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  bool enabled() const { return enabled_; }

  // Redraws "<label> [####......] step/steps  loss L  acc A%  S samples/s  ETA m:ss".
  // top1 in [0, 1]; a negative loss or top1 is left out. Redraws at most every kMinRedrawSeconds
  // except when step == steps.
  void update(std::string_view label, int64_t step, int64_t steps, double loss, double top1, double samples_per_s,
              double eta_s);
  // For phases without their own rate: "<label> [####......] step/steps  elapsed m:ss  ETA m:ss",
  // the ETA extrapolated from this phase's elapsed time (a phase restarts when the label changes or
  // the step goes back).
  void phase(std::string_view label, int64_t step, int64_t steps);
  // Erases the bar's line (if drawn); the next update() draws a new one.
  void clear();

 private:
  static constexpr double kMinRedrawSeconds = 0.1;
  static constexpr int kBarWidth = 24;

  bool enabled_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
  std::string phase_label_;
  int64_t phase_step_ = 0;
  std::chrono::steady_clock::time_point phase_start_{};
};

}  // namespace hqp::cli
