// The shared message type is public (include/duplex/message.h): embedders
// receive it in subscription callbacks.
#pragma once

#include "duplex/message.h"
