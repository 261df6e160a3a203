#include "net/peer_name.h"

#include <fmt/core.h>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace duplex::net {

std::string peer_name(const sockaddr_storage& sa) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&sa);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof ip);
        else inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else if (sa.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&sa);
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    }
    return fmt::format("{}:{}", ip, port);
}

}  // namespace duplex::net
