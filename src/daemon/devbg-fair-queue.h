/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A fair queue: work items of several owners (users), served one at a
 * time in turn, one owner's after another's, from the main loop once
 * nothing of higher priority waits (G_PRIORITY_DEFAULT_IDLE: the calls
 * GDBus has read are all queued before one is served). A long list page
 * costs devbgd milliseconds to pack; served in the order the calls came,
 * one user's thousands of calls made every other user's wait seconds.
 * Each owner has at most a bounded number waiting.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DevbgFairQueue DevbgFairQueue;

typedef void (*DevbgFairQueueServe) (gpointer item,
                                     gpointer user_data);

/* @serve runs each item once, in turn; @drop frees an item never served
 * (the queue freed first). */
DevbgFairQueue *devbg_fair_queue_new    (guint                max_per_owner,
                                         DevbgFairQueueServe  serve,
                                         GDestroyNotify       drop,
                                         gpointer             user_data);
void            devbg_fair_queue_free   (DevbgFairQueue      *queue);

/* Queues @item behind @owner's own: FALSE, and @item not taken, when
 * @owner already has max_per_owner waiting. */
gboolean        devbg_fair_queue_push   (DevbgFairQueue      *queue,
                                         guint32              owner,
                                         gpointer             item);

/* Serves the next item, the next owner's in turn: FALSE when none waits.
 * (The main loop does this by itself; for tests.) */
gboolean        devbg_fair_queue_serve_one (DevbgFairQueue   *queue);

guint           devbg_fair_queue_waiting (DevbgFairQueue     *queue);

G_END_DECLS
