#include "daemon/passwd.h"

#include "auth/password_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace duplex {

namespace {

const char* const passwd_usage =
    R"(Usage: duplex passwd [-c] [-D] [-b] [-I iterations] <file> <user> [<password>]

Manages a password file in mosquitto's format (mosquitto_passwd's files and
duplex's are interchangeable).
  -c   create the file (overwrites an existing one) with this user
  -D   delete the user
  -b   batch mode: the password is the last argument (visible to other
       users in the process list); otherwise it is read twice from the
       terminal without echo, or as one line from standard input
  -I   PBKDF2-SHA512 rounds for the new hash, 1..1000000   [1000]
The file is replaced atomically and written with mode 0600.
)";

constexpr size_t kMaxSecret = 65535;  // MQTT's limit for a username or password

int fail(const std::string& message) {
    std::fprintf(stderr, "duplex passwd: %s\n", message.c_str());
    return 1;
}

std::string errno_text() { return std::strerror(errno); }

bool valid_username(std::string_view user, std::string& why) {
    if (user.empty()) why = "the username is empty";
    else if (user.size() > kMaxSecret) why = "the username is longer than 65535 bytes";
    else if (user.find(':') != std::string_view::npos) why = "the username must not contain ':'";
    else
        for (char c : user)
            if (uint8_t(c) < 0x20 || c == 0x7f) why = "the username must not contain control characters";
    return why.empty();
}

// The terminal's settings while echo is off, restored on SIGINT/SIGTERM too.
termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void restore_terminal_and_exit(int) {
    if (g_echo_off) tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    _exit(1);
}

// One line from stdin without its "\n" / "\r\n". False at EOF with nothing
// read or for a line over kMaxSecret bytes.
bool read_line(std::string& out, bool& too_long) {
    out.clear();
    too_long = false;
    int c;
    bool any = false;
    while ((c = std::getchar()) != EOF) {
        any = true;
        if (c == '\n') break;
        if (out.size() > kMaxSecret) too_long = true;
        else out.push_back(char(c));
    }
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return any && !too_long;
}

bool read_hidden(const char* prompt, std::string& out, bool& too_long) {
    std::fputs(prompt, stderr);
    std::fflush(stderr);
    termios t = g_saved_termios;
    t.c_lflag &= ~tcflag_t(ECHO);
    t.c_lflag |= ECHONL;
    g_echo_off = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
    bool ok = read_line(out, too_long);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_echo_off = 0;
    return ok;
}

// The new password: twice from a terminal, or one line from a pipe.
bool read_password(std::string& password, std::string& why) {
    bool too_long = false;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_saved_termios) == 0) {
        signal(SIGINT, restore_terminal_and_exit);
        signal(SIGTERM, restore_terminal_and_exit);
        std::string again;
        if (!read_hidden("Password: ", password, too_long) ||
            !read_hidden("Reenter password: ", again, too_long)) {
            why = too_long ? "the password is longer than 65535 bytes" : "no password entered";
            return false;
        }
        if (password != again) {
            why = "the passwords do not match";
            return false;
        }
        return true;
    }
    if (!read_line(password, too_long)) {
        why = too_long ? "the password is longer than 65535 bytes" : "no password on standard input";
        return false;
    }
    return true;
}

bool read_file(const std::string& path, std::string& out, std::string& why) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        why = path + ": " + errno_text();
        return false;
    }
    out.clear();
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        out.append(buf, size_t(n));
        if (out.size() > auth::kMaxFileBytes) {
            close(fd);
            why = path + ": larger than the 64 MiB a password file may be";
            return false;
        }
    }
    int err = errno;
    close(fd);
    if (n < 0) why = path + ": " + std::strerror(err);
    return n == 0;
}

// A temporary file that is removed unless committed.
struct TempFile {
    std::string path;
    int fd = -1;
    bool committed = false;
    ~TempFile() {
        if (fd >= 0) close(fd);
        if (!path.empty() && !committed) unlink(path.c_str());
    }
};

// Replaces `path` with `text`: a temporary file in the same directory,
// written, synced, renamed over `path` (a symlink's target is replaced), then
// the directory synced. Mode 0600; as root the previous owner is kept.
bool write_atomically(const std::string& path, const std::string& text, std::string& why) {
    std::string target = path;
    if (char* real = realpath(path.c_str(), nullptr)) {
        target = real;
        std::free(real);
    }
    struct stat old {};
    const bool existed = stat(target.c_str(), &old) == 0;
    TempFile tmp;
    std::string name = target + ".tmp-XXXXXX";
    std::vector<char> templ(name.begin(), name.end());
    templ.push_back('\0');
    tmp.fd = mkostemp(templ.data(), O_CLOEXEC);  // creates it with mode 0600
    if (tmp.fd < 0) {
        why = "cannot create a file beside " + target + ": " + errno_text();
        return false;
    }
    tmp.path = templ.data();
    if (fchmod(tmp.fd, 0600) != 0) {
        why = tmp.path + ": " + errno_text();
        return false;
    }
    if (existed && geteuid() == 0 && (old.st_uid != 0 || old.st_gid != 0) &&
        fchown(tmp.fd, old.st_uid, old.st_gid) != 0) {
        why = tmp.path + ": cannot keep the owner: " + errno_text();
        return false;
    }
    for (size_t done = 0; done < text.size();) {
        ssize_t n = write(tmp.fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            why = tmp.path + ": " + errno_text();
            return false;
        }
        done += size_t(n);
    }
    if (fsync(tmp.fd) != 0 || close(tmp.fd) != 0) {
        tmp.fd = -1;
        why = tmp.path + ": " + errno_text();
        return false;
    }
    tmp.fd = -1;
    if (rename(tmp.path.c_str(), target.c_str()) != 0) {
        why = "cannot replace " + target + ": " + errno_text();
        return false;
    }
    tmp.committed = true;
    std::string dir =
        target.substr(0, target.find_last_of('/') == std::string::npos ? 0 : target.find_last_of('/'));
    int dfd = open(dir.empty() ? (target.front() == '/' ? "/" : ".") : dir.c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return true;
}

}  // namespace

int passwd_main(int argc, char** argv) {
    bool create = false, remove = false, batch = false;
    int iterations = auth::default_iterations();
    int i = 1;
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-c") create = true;
        else if (a == "-D") remove = true;
        else if (a == "-b") batch = true;
        else if (a == "-I") {
            if (i + 1 >= argc) return fail("-I needs a number of iterations");
            std::string_view n = argv[++i];
            auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), iterations);
            if (n.empty() || ec != std::errc() || end != n.data() + n.size() || iterations < 1 ||
                iterations > auth::kMaxIterations)
                return fail("-I: iterations must be a number in 1..1000000");
        } else if (a == "-h" || a == "--help") {
            std::fputs(passwd_usage, stdout);
            return 0;
        } else if (a == "--") {
            ++i;
            break;
        } else if (a.size() > 1 && a[0] == '-') {
            return fail("unknown option " + std::string(a) + " (see duplex passwd --help)");
        } else {
            break;
        }
    }
    if (create && remove) return fail("-c and -D cannot be used together");
    if (remove && batch) return fail("-b and -D cannot be used together");
    const int positional = argc - i;
    if (positional != (batch ? 3 : 2)) {
        std::fputs(passwd_usage, stderr);
        return 1;
    }
    const std::string path = argv[i], user = argv[i + 1];
    std::string why;
    if (!valid_username(user, why)) return fail(why);

    std::string text;
    if (!create) {
        if (!read_file(path, text, why)) return fail(why + " (-c creates a new file)");
        auto parsed = auth::PasswordFile::parse(text);
        if (auto* err = std::get_if<std::string>(&parsed)) return fail(path + ": " + *err + "; not changed");
        if (remove && !std::get<auth::PasswordFile>(parsed).contains(user))
            return fail("user " + user + " is not in " + path);
    }
    std::string hashed;
    if (!remove) {
        std::string password;
        if (batch) password = argv[i + 2];
        else if (!read_password(password, why)) return fail(why);
        if (password.empty()) return fail("the password is empty");
        if (password.size() > kMaxSecret) return fail("the password is longer than 65535 bytes");
        hashed = auth::hash_password(password, iterations);
        std::fill(password.begin(), password.end(), '\0');
        if (hashed.empty()) return fail("cannot hash the password (no randomness?)");
    }
    text = create ? user + ":" + hashed + "\n" : auth::set_user(text, user, hashed);
    if (!write_atomically(path, text, why)) return fail(why);
    return 0;
}

}  // namespace duplex
