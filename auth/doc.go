// Package auth is fleetbook's NATS identity: the decentralised-JWT trust chain (a NATS operator,
// a system account and the fleetbook account), one credential per role with the permissions that
// role needs and no more, and the files that hold them.
//
// A Setup lives in one directory (DATA-DIR/auth for `fleetbook up`, any directory for
// `fleetbook auth init`). Init creates it once and loads it afterwards; every seed and
// credential file is mode 0600. The server trusts the operator and preloads the two accounts
// (ServerTrust); users are signed by the account's signing key, so issuing a credential for a new
// node agent needs no change on the server.
package auth
