#include "auth/jwt.h"

namespace duplex::auth {}  // namespace duplex::auth
