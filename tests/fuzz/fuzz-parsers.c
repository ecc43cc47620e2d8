/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for one of the parsers, chosen at build time by
 * FUZZ_TARGET: 1 manifest, 2 metadata, 3 config, 4 .flatpak-info and cgroup.
 */
#include <stdint.h>
#include <stdlib.h>

#include "devbg-config.h"
#include "devbg-identity.h"
#include "devbg-manifest.h"
#include "devbg-metadata.h"

static void
quiet_log (const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
  (void) domain; (void) level; (void) msg; (void) data;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_log_set_default_handler (quiet_log, NULL);
#if FUZZ_TARGET == 1
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(DevbgManifest) m = devbg_manifest_parse ((const char *) data, (gssize) size,
                                                       "fuzz", &error);
    if (m != NULL)
      {
        g_assert (devbg_app_id_is_valid (m->app_id));
      }
    else
      g_assert (error != NULL);
  }
#elif FUZZ_TARGET == 2
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(DevbgMetadata) md = devbg_metadata_parse ((const char *) data, (gssize) size,
                                                        "fuzz", &error);
    if (md != NULL)
      {
        g_autoptr(GPtrArray) all = g_ptr_array_new ();
        const char *hw[] = { "USB\\VID_1209&PID_0001", NULL };
        g_ptr_array_add (all, md);
        devbg_metadata_match (all, md->model_id, hw);
        devbg_metadata_is_privileged (md, "org.example.App");
      }
    else
      g_assert (error != NULL);
  }
#elif FUZZ_TARGET == 3
  {
    g_autoptr(GError) error = NULL;
    DevbgConfig config;
    devbg_config_init_defaults (&config);
    if (devbg_config_load_data (&config, (const char *) data, size, "fuzz", &error))
      g_free (devbg_config_to_data (&config));
    else
      g_assert (error != NULL);
  }
#elif FUZZ_TARGET == 4
  {
    g_autofree char *text = g_strndup ((const char *) data, size);
    const char *known[] = { "org.example.App", "org.example", NULL };
    g_autofree char *unit = devbg_identity_unit_from_cgroup (text);
    g_auto(DevbgFlatpakInfo) info = { 0 };
    g_autofree char *why = NULL;
    g_free (devbg_identity_parse_flatpak_info ((const char *) data, size));
    /* Either every field, or none and a reason. */
    if (devbg_flatpak_info_parse ((const char *) data, size, &info, &why))
      g_assert (info.name != NULL && info.commit != NULL && why == NULL);
    else
      g_assert (info.name == NULL && why != NULL);
    devbg_identity_app_id_from_unit (unit, known);
    devbg_identity_app_id_from_unit (text, known);
  }
#else
#error "FUZZ_TARGET must be 1 to 4"
#endif
  return 0;
}
