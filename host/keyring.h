/* esemd --keyring (keyring.c). */
#ifndef ESEMD_KEYRING_H
#define ESEMD_KEYRING_H

/* Provision every key of the file to esemd.core; 0, or -1 (logged). */
int keyring_load(const char *path);

#endif
