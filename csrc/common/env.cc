#include "common/env.h"

#include <cstdlib>

namespace fastconv {

std::optional<bool> env_switch(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] == '\0') return std::nullopt;
  return value[0] != '0';
}

}  // namespace fastconv
