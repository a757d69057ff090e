// ProgressBar: an in-place stderr line (carriage return + erase-to-end-of-line).
#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace hqp::cli {

bool stderr_is_terminal() {
  const char* force = std::getenv("HQP_PROGRESS");
  if (force != nullptr && *force != '\0') return std::strcmp(force, "0") != 0;
  return isatty(STDERR_FILENO) == 1;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return "?";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02d}:{:02d}", h, m, s);
  return fmt::format("{}:{:02d}", m, s);
}

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(std::string_view label, int64_t step, int64_t steps, double loss, double top1,
                         double samples_per_s, double eta_s) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = step >= steps;
  if (drawn_ && !last && std::chrono::duration<double>(now - last_draw_).count() < kMinRedrawSeconds) return;
  last_draw_ = now;
  const double fraction = steps > 0 ? std::min(1.0, static_cast<double>(step) / static_cast<double>(steps)) : 1.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string line = fmt::format("{} [{}{}] {}/{}", label, std::string(static_cast<size_t>(filled), '#'),
                                 std::string(static_cast<size_t>(kBarWidth - filled), '.'), step, steps);
  if (loss >= 0.0) line += fmt::format("  loss {:.4f}", loss);
  if (top1 >= 0.0) line += fmt::format("  acc {:.2f}%", 100.0 * top1);
  line += fmt::format("  {:.0f} samples/s  ETA {}", samples_per_s, format_duration(eta_s));
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::phase(std::string_view label, int64_t step, int64_t steps) {
  const auto now = std::chrono::steady_clock::now();
  if (label != phase_label_ || step < phase_step_) {
    phase_label_ = std::string(label);
    phase_start_ = now;
  }
  phase_step_ = step;
  if (!enabled_) return;
  const bool last = step >= steps;
  if (drawn_ && !last && std::chrono::duration<double>(now - last_draw_).count() < kMinRedrawSeconds) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - phase_start_).count();
  const double fraction = steps > 0 ? std::min(1.0, static_cast<double>(step) / static_cast<double>(steps)) : 1.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string line = fmt::format("{} [{}{}] {}/{}  elapsed {}", label, std::string(static_cast<size_t>(filled), '#'),
                                 std::string(static_cast<size_t>(kBarWidth - filled), '.'), step, steps,
                                 format_duration(elapsed));
  if (step > 0 && steps > step) line += fmt::format("  ETA {}", format_duration(elapsed * static_cast<double>(steps - step) / static_cast<double>(step)));
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace hqp::cli
