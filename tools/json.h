/* esemctl's JSON output (json.c). */
#ifndef ESEMCTL_JSON_H
#define ESEMCTL_JSON_H

#include <stddef.h>

/* s (n bytes) as a JSON string, quoted and escaped, on stdout */
void json_str(const char *s, size_t n);

#endif
