/* The data plane: worker threads serving client channels (dataplane.c). */
#ifndef ESEMD_DATAPLANE_H
#define ESEMD_DATAPLANE_H

#include "daemon.h"

int dp_start(int nworkers);
void dp_stop(void);
void dp_attach(struct client *c);
void dp_detach(struct client *c);


#endif
