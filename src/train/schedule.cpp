// Learning-rate schedules (see schedule.h).
#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hqp::train {

namespace {

double cosine(double from, double to, double t) { return to + (from - to) * 0.5 * (1.0 + std::cos(std::numbers::pi * t)); }

}  // namespace

double learning_rate(const ScheduleConfig& c, int64_t step, int64_t total_steps) {
  total_steps = std::max<int64_t>(total_steps, 1);
  step = std::clamp<int64_t>(step, 0, total_steps - 1);
  if (c.kind == ScheduleKind::kOneCycle) {
    const int64_t up = c.warmup_steps > 0
                           ? std::min(c.warmup_steps, total_steps)
                           : static_cast<int64_t>(std::llround(kOneCycleDefaultWarmupFraction * static_cast<double>(total_steps)));
    const double start = c.base_lr / kOneCycleDivFactor;
    if (step < up) return start + (c.base_lr - start) * static_cast<double>(step) / static_cast<double>(up);
    const int64_t down = std::max<int64_t>(total_steps - up - 1, 1);
    return cosine(c.base_lr, c.base_lr / kOneCycleFinalDiv,
                  std::min(1.0, static_cast<double>(step - up) / static_cast<double>(down)));
  }
  if (step < c.warmup_steps) {
    const double f = c.warmup_start_factor +
                     (1.0 - c.warmup_start_factor) * static_cast<double>(step) / static_cast<double>(c.warmup_steps);
    return c.base_lr * f;
  }
  const int64_t t = step - c.warmup_steps;
  const int64_t span = std::max<int64_t>(total_steps - c.warmup_steps, 1);
  switch (c.kind) {
    case ScheduleKind::kConstant: return c.base_lr;
    case ScheduleKind::kCosine: return cosine(c.base_lr, c.min_lr, static_cast<double>(t) / static_cast<double>(span));
    case ScheduleKind::kStep:
      return c.base_lr * std::pow(c.gamma, static_cast<double>(t / std::max<int64_t>(c.step_size, 1)));
    case ScheduleKind::kOneCycle: break;
  }
  return c.base_lr;
}

std::optional<ScheduleKind> schedule_from_name(std::string_view name) {
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "cosine") return ScheduleKind::kCosine;
  if (name == "onecycle" || name == "one-cycle") return ScheduleKind::kOneCycle;
  if (name == "step") return ScheduleKind::kStep;
  return std::nullopt;
}

std::string_view schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant: return "constant";
    case ScheduleKind::kCosine: return "cosine";
    case ScheduleKind::kOneCycle: return "onecycle";
    case ScheduleKind::kStep: return "step";
  }
  return "constant";
}

}  // namespace hqp::train
