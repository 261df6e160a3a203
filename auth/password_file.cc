#include "auth/password_file.h"

namespace duplex::auth {}  // namespace duplex::auth
