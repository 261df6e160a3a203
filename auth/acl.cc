#include "auth/acl.h"

namespace duplex::auth {}  // namespace duplex::auth
