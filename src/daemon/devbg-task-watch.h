/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tools that watch running tasks (devbgctl monitor, WatchTasks): each
 * watching connection gets TaskChanged and TaskEnded, unicast, for the
 * instances its caller may see (devbg_runtime_may_see()), until it leaves
 * the bus. Every instance's "state-changed", "progress" and "finished" is
 * caught with emission hooks, so the request path needs no change.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-instance.h"
#include "devbg-peer-flow.h"
#include "devbg-runtime.h"

G_BEGIN_DECLS

typedef struct _DevbgTaskWatch DevbgTaskWatch;

/* Every signal goes through @flow (not owned): devbg-peer-flow.h. */
DevbgTaskWatch *devbg_task_watch_new (DevbgPeerFlow   *flow);
void            devbg_task_watch_free (DevbgTaskWatch *watch);
/* From now on, while its connection lasts, @caller is sent the changes;
 * FALSE with DEVBG_ERROR_LIMIT_EXCEEDED when DEVBG_MAX_TASK_WATCHERS
 * connections of its user already watch. */
gboolean        devbg_task_watch_add (DevbgTaskWatch    *watch,
                                      const DevbgCaller *caller,
                                      GError           **error);
/* @peer watches no more (it does not read what it is sent). */
void            devbg_task_watch_remove (DevbgTaskWatch *watch,
                                         const char     *peer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgTaskWatch, devbg_task_watch_free)

G_END_DECLS
