// CLI11 validators with readable messages for numeric flags ("--lr: -0.1 is not > 0"), used by
// hqp train / hqp eval. (CLI::PositiveNumber prints the whole range up to DBL_MAX instead.)
#pragma once

#include <cmath>
#include <string>

#include <CLI/CLI.hpp>

namespace hqp::cli {

// Accepts numbers x with x > 0 (strict) or x >= 0 (non-strict).
inline CLI::Validator number_above_zero(bool strict) {
  return CLI::Validator(
      [strict](std::string& text) -> std::string {
        double v = 0.0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return text + " is not a number";
        } catch (const std::exception&) {
          return text + " is not a number";
        }
        if (!std::isfinite(v) || (strict ? !(v > 0.0) : !(v >= 0.0))) return text + (strict ? " is not > 0" : " is not >= 0");
        return std::string();
      },
      strict ? "> 0" : ">= 0");
}
inline CLI::Validator positive() { return number_above_zero(true); }
inline CLI::Validator non_negative() { return number_above_zero(false); }

// Accepts numbers in [0, 1) (open = true) or [0, 1].
inline CLI::Validator unit_interval(bool open) {
  return CLI::Validator(
      [open](std::string& text) -> std::string {
        double v = 0.0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return text + " is not a number";
        } catch (const std::exception&) {
          return text + " is not a number";
        }
        if (!(v >= 0.0) || (open ? !(v < 1.0) : !(v <= 1.0))) return text + (open ? " is not in [0, 1)" : " is not in [0, 1]");
        return std::string();
      },
      open ? "in [0, 1)" : "in [0, 1]");
}

}  // namespace hqp::cli
