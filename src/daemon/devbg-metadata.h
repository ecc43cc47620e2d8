/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Device metadata: which app is privileged for a device (may run servicing
 * tasks on it), keyed by model ID and hardware IDs. Matching is pure.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint       ref_count;
  char      *origin;
  char      *model_id;        /* normalized: lower case, no braces; may be NULL */
  GStrv      hardware_ids;    /* normalized: upper case */
  gboolean   any_application; /* <AnyApplication/> */
  GStrv      privileged_apps; /* app IDs (Identity Name) */
} DevbgMetadata;

DevbgMetadata *devbg_metadata_parse (const char *data,
                                     gssize      length,
                                     const char *origin,
                                     GError    **error);
DevbgMetadata *devbg_metadata_ref (DevbgMetadata *md);
void           devbg_metadata_unref (DevbgMetadata *md);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgMetadata, devbg_metadata_unref)

/* "{6B29FC40-CA47-1067-B31D-00DD010662DA}" -> "6b29fc40-ca47-1067-b31d-00dd010662da";
 * NULL when @model_id is not a GUID. */
char *devbg_model_id_normalize (const char *model_id);

/* The metadata for a device: the one with its model ID if any, otherwise
 * the one matching the earliest (most specific) of @hardware_ids.
 * @all holds DevbgMetadata. Returns a borrowed pointer or NULL. */
DevbgMetadata *devbg_metadata_match (GPtrArray          *all,
                                     const char         *model_id,
                                     const char *const  *hardware_ids);

/* A full app-ID match against the privileged list. */
gboolean devbg_metadata_is_privileged (const DevbgMetadata *md,
                                       const char          *app_id);

/* Loads every *.xml file in @dirs; malformed ones are skipped with their
 * error appended to @problems. Returns an array of DevbgMetadata. */
GPtrArray *devbg_metadata_load (const char *const *dirs,
                                GPtrArray          *problems);

G_END_DECLS
