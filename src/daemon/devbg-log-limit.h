/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * How many lines of one kind devbgd logs about one caller. A caller that
 * makes devbgd log at will (a refused request is a line) would flood the
 * journal, which then drops devbgd's lines about everyone (journald keeps
 * 10,000 a service in 30 s by default): so each key (an owner) gets a
 * burst of lines per interval, and the first line after a quiet spell
 * says how many were left out.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DevbgLogLimit DevbgLogLimit;

/* @burst lines per key in each @interval_us; at most @max_keys keys are
 * remembered (the oldest interval's are forgotten first: a key forgotten
 * starts afresh, so the bound on lines is per remembered key). */
DevbgLogLimit *devbg_log_limit_new  (guint          burst,
                                     gint64         interval_us,
                                     guint          max_keys);
void           devbg_log_limit_free (DevbgLogLimit *limit);

/* Whether a line for @key may be logged at @now_us (monotonic): FALSE
 * counts it as left out. When TRUE, *@left_out is the number of lines of
 * @key left out since the last one logged (0 when none). */
gboolean       devbg_log_limit_allow (DevbgLogLimit *limit,
                                      const char    *key,
                                      gint64         now_us,
                                      guint         *left_out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgLogLimit, devbg_log_limit_free)

G_END_DECLS
