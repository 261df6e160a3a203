// How a peer is named in logs and in Transport::peer(): "ip:port", IPv4
// peers on a dual-stack socket without their ::ffff: prefix. The one place
// this format is stated.
#pragma once

#include <sys/socket.h>

#include <string>

namespace duplex::net {

// "?:0" for an address family other than IPv4 and IPv6.
std::string peer_name(const sockaddr_storage& sa);

}  // namespace duplex::net
