// Package accountsfile reads threadsync's accounts file (the accounts, their
// tokens, their options and the reply policies they use) with errors that
// name the file, the account and the field and never quote a secret, and
// watches it, and the token files it names, for changes.
package accountsfile
