// `duplex passwd`: manages a password file in mosquitto's format, the way
// mosquitto_passwd does (the files are interchangeable):
//
//   duplex passwd [-c] [-D] [-b] [-I iterations] <file> <user> [<password>]
//
//   -c  create the file (overwriting one that exists) with this one user
//   -D  delete the user
//   -b  the password is the last argument (batch mode); otherwise it is read
//       twice from the terminal without echo, or as one line from standard
//       input when that is not a terminal
//   -I  PBKDF2 rounds ($7$), 1..1000000 [auth::default_iterations()]
//
// The file is written to a temporary file beside it, synced and renamed
// over it (never half-written), mode 0600; as root, the previous owner is
// kept. An existing file that does not parse is left alone (an error).
// Usernames with ':' or control characters are refused.
#pragma once

namespace duplex {

// argv[0] is "passwd". Returns the process exit status: 0 done, 1 error
// (message on stderr), as mosquitto_passwd.
int passwd_main(int argc, char** argv);

}  // namespace duplex
