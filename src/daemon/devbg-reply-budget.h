/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The list pages each user has waiting in devbgd to be written.
 *
 * GDBus keeps each reply (its body and its serialized copy) until it has
 * written it to dbus-daemon, and dbus-daemon stops reading devbgd once
 * the replies its callers have not read fill devbgd's quota there. A
 * user pipelining list calls on connections that never read (at most 256
 * connections of 128 calls each) made devbgd keep a page of up to 1 MiB,
 * twice, for every call: 2,000 unread History calls, 2.2 GB (found by a
 * hostile-user review). So each page is charged to its user until GDBus
 * lets go of its reply, and past a bound a page is refused. A charge is
 * released in GDBus's worker thread: the budget is thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DevbgReplyBudget DevbgReplyBudget;
typedef struct _DevbgReplyCharge DevbgReplyCharge;

DevbgReplyBudget *devbg_reply_budget_new     (void);
void              devbg_reply_budget_unref   (DevbgReplyBudget *budget);

/* Charges @size bytes more to @uid, unless it has @max or more waiting:
 * then NULL. */
DevbgReplyCharge *devbg_reply_budget_charge  (DevbgReplyBudget *budget,
                                              guint32           uid,
                                              gsize             size,
                                              gsize             max);

/* Its reply written (or dropped), from any thread: a GDestroyNotify. */
void              devbg_reply_charge_release (gpointer          charge);

G_END_DECLS
