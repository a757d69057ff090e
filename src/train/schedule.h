// Learning-rate schedules by optimizer step: linear warm-up, then constant, cosine, one-cycle or
// step decay. Pure arithmetic (no libtorch); the trainer sets the rate before every step.
#pragma once

#include <cstdint>
#include <string_view>
#include <optional>

namespace hqp::train {

enum class ScheduleKind : uint8_t {
  kConstant,
  kCosine,    // base → min_lr along half a cosine over the steps after warm-up
  kOneCycle,  // warm-up from base/kOneCycleDivFactor to base, then cosine to base/kOneCycleFinalDiv
  kStep,      // base · gamma^floor((step - warmup) / step_size)
};

inline constexpr double kOneCycleDivFactor = 25.0;  // torch.optim.lr_scheduler.OneCycleLR defaults
inline constexpr double kOneCycleFinalDiv = 25.0 * 1e4;
inline constexpr double kOneCycleDefaultWarmupFraction = 0.3;  // pct_start when warmup_steps = 0

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::kCosine;
  double base_lr = 0.1;
  double min_lr = 0.0;         // cosine floor
  int64_t warmup_steps = 0;    // linear warm-up from warmup_start_factor·base (one-cycle: its own start)
  double warmup_start_factor = 0.0;
  int64_t step_size = 1;       // kStep: steps per decay
  double gamma = 0.1;          // kStep: decay factor
};

// Rate for optimizer step `step` in [0, total_steps).
double learning_rate(const ScheduleConfig& config, int64_t step, int64_t total_steps);

std::optional<ScheduleKind> schedule_from_name(std::string_view name);  // "constant", "cosine", "onecycle", "step"
std::string_view schedule_name(ScheduleKind kind);

}  // namespace hqp::train
