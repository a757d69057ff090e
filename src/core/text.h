// Text that came from outside (model paths, node / value / metadata names, class folders, error
// messages quoting them) made safe for a terminal line and for JSON: the one place hqp sanitizes
// text (issue 9). Valid UTF-8 stays as it is; what could break a line, a terminal or a JSON
// encoder is escaped.
#pragma once

#include <string>
#include <string_view>

namespace hqp {

// `text` with every byte that is not printable escaped: C0 controls and DEL as \n, \r, \t or
// \xHH, C1 controls (U+0080..U+009F) as \xC2\xHH (so a message stays one line and carries no
// terminal escape sequence), and every byte of an
// invalid UTF-8 sequence (overlong forms, surrogates, code points > U+10FFFF, truncated sequences)
// as \xHH. A backslash is kept as is. The result is valid UTF-8 without control characters.
std::string printable(std::string_view text);

// printable() that keeps line breaks: what the CLI writes to stdout (tables, listings, JSON), so
// that a name from a model or a dataset can carry no terminal escape sequence into it.
std::string terminal_text(std::string_view text);

// True when `text` is valid UTF-8 (what a JSON string may hold).
bool is_valid_utf8(std::string_view text);

}  // namespace hqp
