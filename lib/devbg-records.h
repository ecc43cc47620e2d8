/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Packed records: how devbgd sends a long list (ListRegistrations, History,
 * the pending events of WatchEvents and ListEvents) as one
 * `ay` per page instead of an array of structs. GDBus serializes and
 * parses an array of structs one value at a time (about 6 us per
 * registration, both sides together); an `ay` crosses the bus as one
 * block. The format, documented in the D-Bus interface file:
 *
 *   a page is a sequence of records; a record is exactly N fields (N is
 *   fixed per list); a field is a UTF-8 string without NUL, ended by a
 *   NUL byte. An empty page is zero bytes. A field that is the single
 *   byte 0xFF (never UTF-8), a repeat mark, stands for the same field of
 *   the record before it on the page.
 *
 * Repeat marks exist because a History or events page repeats most of a
 * registration's fields from one entry to the next (90 of a History
 * entry's 187 bytes): the bus's cost is per byte, and so is the decoder's.
 *
 * The decoder trusts nothing (devbgd's reply is checked like any input):
 * it refuses a page that does not end with a NUL, a field that is not
 * UTF-8 and not a repeat mark, a repeat mark in the first record, and a
 * field count that is not a multiple of N.
 *
 * Internal to devbg (devbgd and libdevbg); not an installed header.
 */
#pragma once

#include <string.h>

#include <glib.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

/* Appends one field (a UTF-8 string without NUL). */
static inline void
devbg_records_add (GByteArray *page, const char *field)
{
  g_byte_array_append (page, (const guint8 *) field, (guint) strlen (field) + 1);
}

#define DEVBG_RECORDS_REPEAT_MARK 0xFF

/* The most fields a record has (History's). */
#define DEVBG_RECORDS_MAX_FIELDS 16

/* The number of NUL bytes in @data (of a packed page or record: its
 * number of fields when it ends with one), counted eight at a time. */
gsize devbg_records_count_nuls (const guint8 *data,
                                gsize         size);

/* The fields of @page, each pointing into @page (which must outlive the
 * array), in order: n_records = len / n_fields. NULL with a
 * DEVBG_ERROR_INVALID_ARGUMENT error when the page is malformed. */
GPtrArray *devbg_records_parse (const guint8 *page,
                                gsize         size,
                                guint         n_fields,
                                GError      **error);

/* The same, of a page as a reply carries it (an `ay` GVariant, which must
 * outlive the array); *@size (may be NULL) is its length in bytes. */
GPtrArray *devbg_records_parse_variant (GVariant *page,
                                        guint     n_fields,
                                        gsize    *size,
                                        GError  **error);

/* One History entry, decoded from its DEVBG_HISTORY_FIELDS fields; the
 * strings point into the page. */
typedef struct {
  const char      *instance_id;
  const char      *task_id;
  const char      *app_id;
  const char      *name;
  const char      *entry_point;
  DevbgTriggerType trigger;
  const char      *device_id;
  guint32          uid;
  gint64           started_us;
  gint64           finished_us;
  gboolean         success;
  const char      *error;
  const char      *cancel_reason;
} DevbgHistoryRecord;

/* Decodes record @index of a History page from @fields (its
 * DEVBG_HISTORY_FIELDS fields, as devbg_records_parse() gave them): FALSE
 * with a DEVBG_ERROR_INVALID_ARGUMENT error naming the record and the
 * field when a number does not parse, success is not "0" or "1", or the
 * trigger is unknown. */
gboolean devbg_records_decode_history (const char *const  *fields,
                                       guint               index,
                                       DevbgHistoryRecord *record,
                                       GError            **error);

/* One pending completion event of a WatchEvents or ListEvents page,
 * decoded from its DEVBG_EVENT_FIELDS fields; the strings point into the
 * page. */
typedef struct {
  const char *event_id;
  const char *task_id;
  const char *instance_id;
  gboolean    success;
  const char *error;
  const char *cancel_reason;
  gint64      finished_us;
} DevbgEventEntry;

/* Decodes record @index of an events page from @fields (its
 * DEVBG_EVENT_FIELDS fields, as devbg_records_parse() gave them): FALSE
 * with a DEVBG_ERROR_INVALID_ARGUMENT error naming the record and the
 * field when success is not "0" or "1" or finished-us does not parse. */
gboolean devbg_records_decode_event (const char *const *fields,
                                     guint              index,
                                     DevbgEventEntry   *entry,
                                     GError           **error);

/* One stored use consent of a ListPermissions page, decoded from its
 * DEVBG_PERMISSION_FIELDS fields; the strings point into the page. */
typedef struct {
  guint32     uid;
  const char *app_id;
  const char *model_id;
  gint64      created_us;
} DevbgPermissionEntry;

/* Decodes record @index of a ListPermissions page from @fields: FALSE
 * with a DEVBG_ERROR_INVALID_ARGUMENT error naming the record and the
 * field when the uid or created-us does not parse, or the app ID is
 * empty. */
gboolean devbg_records_decode_permission (const char *const     *fields,
                                          guint                  index,
                                          DevbgPermissionEntry  *entry,
                                          GError               **error);

/* Append one whole History record (DEVBG_HISTORY_FIELDS fields), one
 * event record (DEVBG_EVENT_FIELDS) or one consent record
 * (DEVBG_PERMISSION_FIELDS), in the order and form the decoders
 * above read: devbgd stores each row so, and a page is its rows' records
 * back to back. The strings must be UTF-8 without NUL ("" for none). */
void devbg_records_add_history (GByteArray               *page,
                                const DevbgHistoryRecord *record);
void devbg_records_add_event   (GByteArray               *page,
                                const DevbgEventEntry    *entry);
void devbg_records_add_permission (GByteArray                 *page,
                                   const DevbgPermissionEntry *entry);

/* Appends whole records to a page, each field that repeats the same
 * field of the record before it as a repeat mark (when that saves bytes:
 * a field of two bytes or more). */
typedef struct {
  GByteArray *page;
  guint       n_fields;
  guint       n_records;
  /* Where the text of each field of the last record is in @page (the
   * record where it was last written out, not marked). */
  guint       above_offset[DEVBG_RECORDS_MAX_FIELDS];
  guint       above_length[DEVBG_RECORDS_MAX_FIELDS];
} DevbgRecordsWriter;

void     devbg_records_writer_init (DevbgRecordsWriter *writer,
                                    GByteArray         *page,
                                    guint               n_fields);

/* Appends @record, exactly the writer's n_fields fields, each ended by a
 * NUL (as devbg_records_add() writes them and devbgd stores them): FALSE,
 * and nothing appended, when it is not. */
gboolean devbg_records_writer_add (DevbgRecordsWriter *writer,
                                    const guint8       *record,
                                    gsize               size);

G_END_DECLS
