/* split_config.h — TEST-ONLY: a header found only through --plugin-cflags=-I... */
#ifndef SPLIT_CONFIG_H
#define SPLIT_CONFIG_H
#ifndef SPLIT_MAX_ORDER
#error "SPLIT_MAX_ORDER comes from --plugin-cflags=-DSPLIT_MAX_ORDER=N"
#endif
#endif
