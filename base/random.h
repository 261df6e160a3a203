// Unguessable identifiers (STOMP session and temp-queue ids, assigned MQTT
// client ids): bytes from the kernel's CSPRNG (getrandom(2)), hex-encoded.
// Sequential ids let a third party guess another client's reply address and
// inject a forged reply; 128 random bits cannot be guessed.
//
// Threading: any thread. Errors: getrandom cannot fail for requests of at
// most 256 bytes once the pool is initialised (it blocks until then, only
// ever at early boot); on an unexpected failure the process aborts rather
// than hand out a predictable id.
#pragma once

#include <cstddef>
#include <string>

namespace duplex {

// `bytes` random bytes as 2 x `bytes` lowercase hex digits. 16 bytes (128
// bits) unless stated.
std::string random_hex(size_t bytes = 16);

}  // namespace duplex
