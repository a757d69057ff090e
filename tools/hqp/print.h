// The CLI's one way to write text to the terminal: formatted as fmt::print, then passed through
// hqp::terminal_text (core/text.h) so that names from models and datasets (node and class names,
// metadata, paths) carry no control character or invalid UTF-8 into a listing. Line breaks the
// format itself writes are kept. Errors go through main.cpp's printable() instead (one line).
#pragma once

#include <cstdio>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "core/text.h"

namespace hqp::cli {

template <typename... Args>
void print_to(std::FILE* file, fmt::format_string<Args...> format, Args&&... args) {
  const std::string text = terminal_text(fmt::format(format, std::forward<Args>(args)...));
  std::fwrite(text.data(), 1, text.size(), file);
}

template <typename... Args>
void print(fmt::format_string<Args...> format, Args&&... args) {
  cli::print_to(stdout, format, std::forward<Args>(args)...);
}

}  // namespace hqp::cli
