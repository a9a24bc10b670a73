// Test and measurement hooks read from the environment on each call (so a test can force a path
// mid-process). Defined in baseline code: per-ISA kernel files may call it.
#pragma once

#include <optional>

namespace fastconv {

// A forced on/off switch: "0" off, any other non-empty value (documented as "1") on; unset or
// empty: not forced (std::nullopt), the caller's rule decides.
std::optional<bool> env_switch(const char* name);

}  // namespace fastconv
