/* The data plane: worker threads serving client channels (dataplane.c). */
#ifndef ESEMD_DATAPLANE_H
#define ESEMD_DATAPLANE_H

#include "daemon.h"

int dp_start(int nworkers);
void dp_stop(void);
void dp_attach(struct client *c);
void dp_detach(struct client *c);
/* End c's core session: re-post grants it never took, then close it.
 * Fills the counts for the log. */
void dp_session_end(struct client *c, uint32_t *waiters_removed, uint32_t *opens_closed,
                    uint32_t *reposted);


#endif
