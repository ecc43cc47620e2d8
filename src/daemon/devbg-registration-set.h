/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One owner's registrations as the store keeps them in memory beside its
 * table: in store order (the order ListRegistrations pages through) and by
 * task ID. Registrations are read far more often than written (every
 * Request looks one up, every Register counts them, a list reads them
 * all), and reading 10,000 rows back from SQLite costs some 5 ms; the set
 * answers from memory. The table stays the truth: the store changes a set
 * only after the row changed, and drops its sets when a write fails.
 */
#pragma once

#include "devbg-store.h"

G_BEGIN_DECLS

typedef struct _DevbgRegistrationSet DevbgRegistrationSet;

DevbgRegistrationSet *devbg_registration_set_new (const DevbgOwner *owner);
void                  devbg_registration_set_free (DevbgRegistrationSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgRegistrationSet, devbg_registration_set_free)

/* Keeps a copy of @reg (of the set's owner) at its store position
 * @reg->cursor. */
void     devbg_registration_set_add (DevbgRegistrationSet          *set,
                                     const DevbgRegistrationRecord *reg);

/* FALSE when the set has no registration @task_id. */
gboolean devbg_registration_set_remove (DevbgRegistrationSet *set,
                                        const char           *task_id);

/* Fills @reg with the registration @task_id, its strings the set's (valid
 * until the set changes); FALSE when there is none. */
gboolean devbg_registration_set_lookup (const DevbgRegistrationSet *set,
                                        const char                 *task_id,
                                        DevbgRegistrationRecord    *reg);

guint    devbg_registration_set_get_size (const DevbgRegistrationSet *set);

/* Visits the registrations after @cursor in store order, until @visit
 * returns FALSE. */
void     devbg_registration_set_foreach (const DevbgRegistrationSet *set,
                                         gint64                      cursor,
                                         DevbgRegistrationVisitor    visit,
                                         gpointer                    user_data);

/* The registrations after @cursor as one page of packed records
 * (lib/devbg-records.h; the fields of DEVBG_REGISTRATION_FIELDS): as many
 * whole ones as fit in @max_bytes, and at least one. *@last_cursor is the
 * last one's position (@cursor when none), *@more whether any follow. */
GBytes  *devbg_registration_set_pack (const DevbgRegistrationSet *set,
                                      gint64                      cursor,
                                      gsize                       max_bytes,
                                      gint64                     *last_cursor,
                                      gboolean                   *more);

G_END_DECLS
