/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The next page of a long list, packed while the one before it travels:
 * a caller that reads History, its pending events or the stored consent
 * to the end asks for page after page, and devbgd, idle while a page
 * crosses the bus, packs the next one then. It is served only to the same caller, for the same
 * list and position, and only while the database has not changed since:
 * what it holds is exactly what the store would answer.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DevbgReadAhead DevbgReadAhead;

/* A packed page and where the list goes on after it. */
typedef struct {
  GBytes  *bytes;
  gboolean more;
  gint64   last_cursor;
} DevbgReadAheadPage;

/* Holds at most @max_pages pages of @max_bytes in all, each for @keep_ms
 * at most: a caller that stops reading leaves nothing behind for long. */
DevbgReadAhead *devbg_read_ahead_new  (guint max_pages,
                                       gsize max_bytes,
                                       guint keep_ms);
void            devbg_read_ahead_free (DevbgReadAhead *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgReadAhead, devbg_read_ahead_free)

/* Keeps @page as the answer to @key (which names the caller, the list,
 * its parameters and the position the page starts after) while the
 * store's generation is @generation; the oldest pages go to make room,
 * and a page larger than all the room is not kept. */
void            devbg_read_ahead_put  (DevbgReadAhead           *self,
                                       const char               *key,
                                       guint64                   generation,
                                       const DevbgReadAheadPage *page);

/* Takes the page kept for @key, TRUE when there was one still valid at
 * @generation (*@page then holds a reference the caller owns). A page
 * found stale is dropped. */
gboolean        devbg_read_ahead_take (DevbgReadAhead     *self,
                                       const char         *key,
                                       guint64             generation,
                                       DevbgReadAheadPage *page);

/* Forgets the pages kept for @sender (a bus name that left). */
void            devbg_read_ahead_forget_sender (DevbgReadAhead *self,
                                                const char     *sender);

/* How many pages are kept (for the tests). */
guint           devbg_read_ahead_count (DevbgReadAhead *self);

G_END_DECLS
