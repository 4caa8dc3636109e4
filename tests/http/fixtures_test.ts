/**
 * Every request fixture in tests/fixtures/requests/{valid,invalid}/ fed every way (see
 * `_helpers.ts` for the format and for why fixtures are static text/JSON imports: this directory
 * runs with no permissions).
 *
 * To add a fixture: write NNN_short_name.http and .json, then add two import lines and one row
 * below (the "fixture manifest" test prints them when run with --allow-read).
 */
import assert from "node:assert/strict";
import {
  decodeEscapes,
  type Fixture,
  type InvalidExpectation,
  runInvalidFixture,
  runValidFixture,
  type ValidExpectation,
} from "./_helpers.ts";

import v001 from "../fixtures/requests/valid/001_get_origin_form.http" with { type: "text" };
import v001j from "../fixtures/requests/valid/001_get_origin_form.json" with { type: "json" };
import v002 from "../fixtures/requests/valid/002_path_query_and_names_lowercased.http" with {
  type: "text",
};
import v002j from "../fixtures/requests/valid/002_path_query_and_names_lowercased.json" with {
  type: "json",
};
import v003 from "../fixtures/requests/valid/003_absolute_form_authority_wins.http" with {
  type: "text",
};
import v003j from "../fixtures/requests/valid/003_absolute_form_authority_wins.json" with {
  type: "json",
};
import v004 from "../fixtures/requests/valid/004_options_asterisk.http" with { type: "text" };
import v004j from "../fixtures/requests/valid/004_options_asterisk.json" with { type: "json" };
import v005 from "../fixtures/requests/valid/005_connect_authority_form.http" with { type: "text" };
import v005j from "../fixtures/requests/valid/005_connect_authority_form.json" with {
  type: "json",
};
import v006 from "../fixtures/requests/valid/006_http10_without_host_closes.http" with {
  type: "text",
};
import v006j from "../fixtures/requests/valid/006_http10_without_host_closes.json" with {
  type: "json",
};
import v007 from "../fixtures/requests/valid/007_http10_keep_alive.http" with { type: "text" };
import v007j from "../fixtures/requests/valid/007_http10_keep_alive.json" with { type: "json" };
import v008 from "../fixtures/requests/valid/008_http11_connection_close.http" with {
  type: "text",
};
import v008j from "../fixtures/requests/valid/008_http11_connection_close.json" with {
  type: "json",
};
import v009 from "../fixtures/requests/valid/009_connection_tokens_any_case.http" with {
  type: "text",
};
import v009j from "../fixtures/requests/valid/009_connection_tokens_any_case.json" with {
  type: "json",
};
import v010 from "../fixtures/requests/valid/010_leading_empty_lines_skipped.http" with {
  type: "text",
};
import v010j from "../fixtures/requests/valid/010_leading_empty_lines_skipped.json" with {
  type: "json",
};
import v011 from "../fixtures/requests/valid/011_method_is_case_sensitive_token.http" with {
  type: "text",
};
import v011j from "../fixtures/requests/valid/011_method_is_case_sensitive_token.json" with {
  type: "json",
};
import v012 from "../fixtures/requests/valid/012_method_with_tchar_punctuation.http" with {
  type: "text",
};
import v012j from "../fixtures/requests/valid/012_method_with_tchar_punctuation.json" with {
  type: "json",
};
import v013 from "../fixtures/requests/valid/013_obs_text_in_value_is_opaque.http" with {
  type: "text",
};
import v013j from "../fixtures/requests/valid/013_obs_text_in_value_is_opaque.json" with {
  type: "json",
};
import v014 from "../fixtures/requests/valid/014_htab_and_sp_ows_trimmed.http" with {
  type: "text",
};
import v014j from "../fixtures/requests/valid/014_htab_and_sp_ows_trimmed.json" with {
  type: "json",
};
import v015 from "../fixtures/requests/valid/015_empty_header_values.http" with { type: "text" };
import v015j from "../fixtures/requests/valid/015_empty_header_values.json" with { type: "json" };
import v016 from "../fixtures/requests/valid/016_host_ipv6_literal.http" with { type: "text" };
import v016j from "../fixtures/requests/valid/016_host_ipv6_literal.json" with { type: "json" };
import v017 from "../fixtures/requests/valid/017_host_empty_value_allowed.http" with {
  type: "text",
};
import v017j from "../fixtures/requests/valid/017_host_empty_value_allowed.json" with {
  type: "json",
};
import v018 from "../fixtures/requests/valid/018_content_length_body.http" with { type: "text" };
import v018j from "../fixtures/requests/valid/018_content_length_body.json" with { type: "json" };
import v019 from "../fixtures/requests/valid/019_content_length_leading_zeros_are_decimal.http" with {
  type: "text",
};
import v019j from "../fixtures/requests/valid/019_content_length_leading_zeros_are_decimal.json" with {
  type: "json",
};
import v020 from "../fixtures/requests/valid/020_content_length_zero_has_no_body.http" with {
  type: "text",
};
import v020j from "../fixtures/requests/valid/020_content_length_zero_has_no_body.json" with {
  type: "json",
};
import v021 from "../fixtures/requests/valid/021_content_length_with_tab_ows.http" with {
  type: "text",
};
import v021j from "../fixtures/requests/valid/021_content_length_with_tab_ows.json" with {
  type: "json",
};
import v022 from "../fixtures/requests/valid/022_post_without_framing_has_empty_body.http" with {
  type: "text",
};
import v022j from "../fixtures/requests/valid/022_post_without_framing_has_empty_body.json" with {
  type: "json",
};
import v023 from "../fixtures/requests/valid/023_get_with_body_is_framed.http" with {
  type: "text",
};
import v023j from "../fixtures/requests/valid/023_get_with_body_is_framed.json" with {
  type: "json",
};
import v024 from "../fixtures/requests/valid/024_chunked_body.http" with { type: "text" };
import v024j from "../fixtures/requests/valid/024_chunked_body.json" with { type: "json" };
import v025 from "../fixtures/requests/valid/025_chunked_coding_case_insensitive.http" with {
  type: "text",
};
import v025j from "../fixtures/requests/valid/025_chunked_coding_case_insensitive.json" with {
  type: "json",
};
import v026 from "../fixtures/requests/valid/026_chunked_after_empty_list_element.http" with {
  type: "text",
};
import v026j from "../fixtures/requests/valid/026_chunked_after_empty_list_element.json" with {
  type: "json",
};
import v027 from "../fixtures/requests/valid/027_chunked_hex_sizes_leading_zeros.http" with {
  type: "text",
};
import v027j from "../fixtures/requests/valid/027_chunked_hex_sizes_leading_zeros.json" with {
  type: "json",
};
import v028 from "../fixtures/requests/valid/028_chunked_extensions_and_trailers.http" with {
  type: "text",
};
import v028j from "../fixtures/requests/valid/028_chunked_extensions_and_trailers.json" with {
  type: "json",
};
import v029 from "../fixtures/requests/valid/029_chunked_utf8_body.http" with { type: "text" };
import v029j from "../fixtures/requests/valid/029_chunked_utf8_body.json" with { type: "json" };
import v030 from "../fixtures/requests/valid/030_expect_100_continue.http" with { type: "text" };
import v030j from "../fixtures/requests/valid/030_expect_100_continue.json" with { type: "json" };
import v031 from "../fixtures/requests/valid/031_expect_ignored_on_http10.http" with {
  type: "text",
};
import v031j from "../fixtures/requests/valid/031_expect_ignored_on_http10.json" with {
  type: "json",
};
import v032 from "../fixtures/requests/valid/032_upgrade_and_content_type.http" with {
  type: "text",
};
import v032j from "../fixtures/requests/valid/032_upgrade_and_content_type.json" with {
  type: "json",
};
import v033 from "../fixtures/requests/valid/033_target_with_sub_delims.http" with { type: "text" };
import v033j from "../fixtures/requests/valid/033_target_with_sub_delims.json" with {
  type: "json",
};
import v034 from "../fixtures/requests/valid/034_transfer_underscore_is_not_framing.http" with {
  type: "text",
};
import v034j from "../fixtures/requests/valid/034_transfer_underscore_is_not_framing.json" with {
  type: "json",
};
import v035 from "../fixtures/requests/valid/035_chunked_with_surrounding_ows.http" with {
  type: "text",
};
import v035j from "../fixtures/requests/valid/035_chunked_with_surrounding_ows.json" with {
  type: "json",
};
import v036 from "../fixtures/requests/valid/036_request_line_at_limit.http" with { type: "text" };
import v036j from "../fixtures/requests/valid/036_request_line_at_limit.json" with { type: "json" };
import v037 from "../fixtures/requests/valid/037_header_count_at_limit.http" with { type: "text" };
import v037j from "../fixtures/requests/valid/037_header_count_at_limit.json" with { type: "json" };
import v038 from "../fixtures/requests/valid/038_body_at_max_body_bytes.http" with { type: "text" };
import v038j from "../fixtures/requests/valid/038_body_at_max_body_bytes.json" with {
  type: "json",
};
import v039 from "../fixtures/requests/valid/039_absolute_form_https_default_port.http" with {
  type: "text",
};
import v039j from "../fixtures/requests/valid/039_absolute_form_https_default_port.json" with {
  type: "json",
};
import v040 from "../fixtures/requests/valid/040_version_1_2_served_as_1_1.http" with {
  type: "text",
};
import v040j from "../fixtures/requests/valid/040_version_1_2_served_as_1_1.json" with {
  type: "json",
};
import v041 from "../fixtures/requests/valid/041_version_1_9_chunked_keep_alive.http" with {
  type: "text",
};
import v041j from "../fixtures/requests/valid/041_version_1_9_chunked_keep_alive.json" with {
  type: "json",
};
import i001 from "../fixtures/requests/invalid/001_get_asterisk.http" with { type: "text" };
import i001j from "../fixtures/requests/invalid/001_get_asterisk.json" with { type: "json" };
import i002 from "../fixtures/requests/invalid/002_get_authority_form.http" with { type: "text" };
import i002j from "../fixtures/requests/invalid/002_get_authority_form.json" with { type: "json" };
import i003 from "../fixtures/requests/invalid/003_connect_origin_form.http" with { type: "text" };
import i003j from "../fixtures/requests/invalid/003_connect_origin_form.json" with { type: "json" };
import i004 from "../fixtures/requests/invalid/004_version_3_1.http" with { type: "text" };
import i004j from "../fixtures/requests/invalid/004_version_3_1.json" with { type: "json" };
import i005 from "../fixtures/requests/invalid/005_version_2_0.http" with { type: "text" };
import i005j from "../fixtures/requests/invalid/005_version_2_0.json" with { type: "json" };
import i006 from "../fixtures/requests/invalid/006_version_9_9.http" with { type: "text" };
import i006j from "../fixtures/requests/invalid/006_version_9_9.json" with { type: "json" };
import i007 from "../fixtures/requests/invalid/007_version_lowercase.http" with { type: "text" };
import i007j from "../fixtures/requests/invalid/007_version_lowercase.json" with { type: "json" };
import i008 from "../fixtures/requests/invalid/008_version_without_minor.http" with {
  type: "text",
};
import i008j from "../fixtures/requests/invalid/008_version_without_minor.json" with {
  type: "json",
};
import i009 from "../fixtures/requests/invalid/009_version_leading_zero.http" with { type: "text" };
import i009j from "../fixtures/requests/invalid/009_version_leading_zero.json" with {
  type: "json",
};
import i010 from "../fixtures/requests/invalid/010_version_two_digit_minor.http" with {
  type: "text",
};
import i010j from "../fixtures/requests/invalid/010_version_two_digit_minor.json" with {
  type: "json",
};
import i011 from "../fixtures/requests/invalid/011_version_missing.http" with { type: "text" };
import i011j from "../fixtures/requests/invalid/011_version_missing.json" with { type: "json" };
import i012 from "../fixtures/requests/invalid/012_double_space_after_method.http" with {
  type: "text",
};
import i012j from "../fixtures/requests/invalid/012_double_space_after_method.json" with {
  type: "json",
};
import i013 from "../fixtures/requests/invalid/013_double_space_before_version.http" with {
  type: "text",
};
import i013j from "../fixtures/requests/invalid/013_double_space_before_version.json" with {
  type: "json",
};
import i014 from "../fixtures/requests/invalid/014_trailing_space_after_version.http" with {
  type: "text",
};
import i014j from "../fixtures/requests/invalid/014_trailing_space_after_version.json" with {
  type: "json",
};
import i015 from "../fixtures/requests/invalid/015_htab_separator.http" with { type: "text" };
import i015j from "../fixtures/requests/invalid/015_htab_separator.json" with { type: "json" };
import i016 from "../fixtures/requests/invalid/016_method_with_delimiter.http" with {
  type: "text",
};
import i016j from "../fixtures/requests/invalid/016_method_with_delimiter.json" with {
  type: "json",
};
import i017 from "../fixtures/requests/invalid/017_junk_before_method.http" with { type: "text" };
import i017j from "../fixtures/requests/invalid/017_junk_before_method.json" with { type: "json" };
import i018 from "../fixtures/requests/invalid/018_fragment_in_target.http" with { type: "text" };
import i018j from "../fixtures/requests/invalid/018_fragment_in_target.json" with { type: "json" };
import i019 from "../fixtures/requests/invalid/019_ctl_in_target.http" with { type: "text" };
import i019j from "../fixtures/requests/invalid/019_ctl_in_target.json" with { type: "json" };
import i020 from "../fixtures/requests/invalid/020_del_in_target.http" with { type: "text" };
import i020j from "../fixtures/requests/invalid/020_del_in_target.json" with { type: "json" };
import i021 from "../fixtures/requests/invalid/021_non_ascii_in_target.http" with { type: "text" };
import i021j from "../fixtures/requests/invalid/021_non_ascii_in_target.json" with { type: "json" };
import i022 from "../fixtures/requests/invalid/022_space_in_target.http" with { type: "text" };
import i022j from "../fixtures/requests/invalid/022_space_in_target.json" with { type: "json" };
import i023 from "../fixtures/requests/invalid/023_bare_lf_after_request_line.http" with {
  type: "text",
};
import i023j from "../fixtures/requests/invalid/023_bare_lf_after_request_line.json" with {
  type: "json",
};
import i024 from "../fixtures/requests/invalid/024_bare_lf_after_header.http" with { type: "text" };
import i024j from "../fixtures/requests/invalid/024_bare_lf_after_header.json" with {
  type: "json",
};
import i025 from "../fixtures/requests/invalid/025_all_bare_lf.http" with { type: "text" };
import i025j from "../fixtures/requests/invalid/025_all_bare_lf.json" with { type: "json" };
import i026 from "../fixtures/requests/invalid/026_bare_cr_in_value.http" with { type: "text" };
import i026j from "../fixtures/requests/invalid/026_bare_cr_in_value.json" with { type: "json" };
import i027 from "../fixtures/requests/invalid/027_bare_cr_ending_head.http" with { type: "text" };
import i027j from "../fixtures/requests/invalid/027_bare_cr_ending_head.json" with { type: "json" };
import i028 from "../fixtures/requests/invalid/028_bare_cr_in_request_line.http" with {
  type: "text",
};
import i028j from "../fixtures/requests/invalid/028_bare_cr_in_request_line.json" with {
  type: "json",
};
import i029 from "../fixtures/requests/invalid/029_leading_bare_lf.http" with { type: "text" };
import i029j from "../fixtures/requests/invalid/029_leading_bare_lf.json" with { type: "json" };
import i030 from "../fixtures/requests/invalid/030_whitespace_before_colon.http" with {
  type: "text",
};
import i030j from "../fixtures/requests/invalid/030_whitespace_before_colon.json" with {
  type: "json",
};
import i031 from "../fixtures/requests/invalid/031_obs_fold.http" with { type: "text" };
import i031j from "../fixtures/requests/invalid/031_obs_fold.json" with { type: "json" };
import i032 from "../fixtures/requests/invalid/032_first_header_leading_space.http" with {
  type: "text",
};
import i032j from "../fixtures/requests/invalid/032_first_header_leading_space.json" with {
  type: "json",
};
import i033 from "../fixtures/requests/invalid/033_empty_header_name.http" with { type: "text" };
import i033j from "../fixtures/requests/invalid/033_empty_header_name.json" with { type: "json" };
import i034 from "../fixtures/requests/invalid/034_brackets_in_header_name.http" with {
  type: "text",
};
import i034j from "../fixtures/requests/invalid/034_brackets_in_header_name.json" with {
  type: "json",
};
import i035 from "../fixtures/requests/invalid/035_non_ascii_in_header_name.http" with {
  type: "text",
};
import i035j from "../fixtures/requests/invalid/035_non_ascii_in_header_name.json" with {
  type: "json",
};
import i036 from "../fixtures/requests/invalid/036_header_without_colon.http" with { type: "text" };
import i036j from "../fixtures/requests/invalid/036_header_without_colon.json" with {
  type: "json",
};
import i037 from "../fixtures/requests/invalid/037_nul_in_value.http" with { type: "text" };
import i037j from "../fixtures/requests/invalid/037_nul_in_value.json" with { type: "json" };
import i038 from "../fixtures/requests/invalid/038_bel_in_value.http" with { type: "text" };
import i038j from "../fixtures/requests/invalid/038_bel_in_value.json" with { type: "json" };
import i039 from "../fixtures/requests/invalid/039_del_in_value.http" with { type: "text" };
import i039j from "../fixtures/requests/invalid/039_del_in_value.json" with { type: "json" };
import i040 from "../fixtures/requests/invalid/040_missing_host_http11.http" with { type: "text" };
import i040j from "../fixtures/requests/invalid/040_missing_host_http11.json" with { type: "json" };
import i041 from "../fixtures/requests/invalid/041_duplicate_host.http" with { type: "text" };
import i041j from "../fixtures/requests/invalid/041_duplicate_host.json" with { type: "json" };
import i042 from "../fixtures/requests/invalid/042_duplicate_host_same_value.http" with {
  type: "text",
};
import i042j from "../fixtures/requests/invalid/042_duplicate_host_same_value.json" with {
  type: "json",
};
import i043 from "../fixtures/requests/invalid/043_duplicate_host_http10.http" with {
  type: "text",
};
import i043j from "../fixtures/requests/invalid/043_duplicate_host_http10.json" with {
  type: "json",
};
import i044 from "../fixtures/requests/invalid/044_host_with_userinfo.http" with { type: "text" };
import i044j from "../fixtures/requests/invalid/044_host_with_userinfo.json" with { type: "json" };
import i045 from "../fixtures/requests/invalid/045_host_with_space.http" with { type: "text" };
import i045j from "../fixtures/requests/invalid/045_host_with_space.json" with { type: "json" };
import i046 from "../fixtures/requests/invalid/046_host_with_path.http" with { type: "text" };
import i046j from "../fixtures/requests/invalid/046_host_with_path.json" with { type: "json" };
import i047 from "../fixtures/requests/invalid/047_host_port_above_65535.http" with {
  type: "text",
};
import i047j from "../fixtures/requests/invalid/047_host_port_above_65535.json" with {
  type: "json",
};
import i048 from "../fixtures/requests/invalid/048_host_port_not_digits.http" with { type: "text" };
import i048j from "../fixtures/requests/invalid/048_host_port_not_digits.json" with {
  type: "json",
};
import i049 from "../fixtures/requests/invalid/049_content_length_plus_sign.http" with {
  type: "text",
};
import i049j from "../fixtures/requests/invalid/049_content_length_plus_sign.json" with {
  type: "json",
};
import i050 from "../fixtures/requests/invalid/050_content_length_negative.http" with {
  type: "text",
};
import i050j from "../fixtures/requests/invalid/050_content_length_negative.json" with {
  type: "json",
};
import i051 from "../fixtures/requests/invalid/051_content_length_hex.http" with { type: "text" };
import i051j from "../fixtures/requests/invalid/051_content_length_hex.json" with { type: "json" };
import i052 from "../fixtures/requests/invalid/052_content_length_trailing_junk.http" with {
  type: "text",
};
import i052j from "../fixtures/requests/invalid/052_content_length_trailing_junk.json" with {
  type: "json",
};
import i053 from "../fixtures/requests/invalid/053_content_length_inner_space.http" with {
  type: "text",
};
import i053j from "../fixtures/requests/invalid/053_content_length_inner_space.json" with {
  type: "json",
};
import i054 from "../fixtures/requests/invalid/054_content_length_list.http" with { type: "text" };
import i054j from "../fixtures/requests/invalid/054_content_length_list.json" with { type: "json" };
import i055 from "../fixtures/requests/invalid/055_content_length_duplicate_identical.http" with {
  type: "text",
};
import i055j from "../fixtures/requests/invalid/055_content_length_duplicate_identical.json" with {
  type: "json",
};
import i056 from "../fixtures/requests/invalid/056_content_length_duplicate_different.http" with {
  type: "text",
};
import i056j from "../fixtures/requests/invalid/056_content_length_duplicate_different.json" with {
  type: "json",
};
import i057 from "../fixtures/requests/invalid/057_content_length_empty.http" with { type: "text" };
import i057j from "../fixtures/requests/invalid/057_content_length_empty.json" with {
  type: "json",
};
import i058 from "../fixtures/requests/invalid/058_content_length_overflow_2_64_plus_5.http" with {
  type: "text",
};
import i058j from "../fixtures/requests/invalid/058_content_length_overflow_2_64_plus_5.json" with {
  type: "json",
};
import i059 from "../fixtures/requests/invalid/059_content_length_above_max_body.http" with {
  type: "text",
};
import i059j from "../fixtures/requests/invalid/059_content_length_above_max_body.json" with {
  type: "json",
};
import i060 from "../fixtures/requests/invalid/060_content_length_above_default_max_body.http" with {
  type: "text",
};
import i060j from "../fixtures/requests/invalid/060_content_length_above_default_max_body.json" with {
  type: "json",
};
import i061 from "../fixtures/requests/invalid/061_te_gzip_then_chunked.http" with { type: "text" };
import i061j from "../fixtures/requests/invalid/061_te_gzip_then_chunked.json" with {
  type: "json",
};
import i062 from "../fixtures/requests/invalid/062_te_identity.http" with { type: "text" };
import i062j from "../fixtures/requests/invalid/062_te_identity.json" with { type: "json" };
import i063 from "../fixtures/requests/invalid/063_te_chunked_then_gzip.http" with { type: "text" };
import i063j from "../fixtures/requests/invalid/063_te_chunked_then_gzip.json" with {
  type: "json",
};
import i064 from "../fixtures/requests/invalid/064_te_xchunked.http" with { type: "text" };
import i064j from "../fixtures/requests/invalid/064_te_xchunked.json" with { type: "json" };
import i065 from "../fixtures/requests/invalid/065_te_truncated_chunk.http" with { type: "text" };
import i065j from "../fixtures/requests/invalid/065_te_truncated_chunk.json" with { type: "json" };
import i066 from "../fixtures/requests/invalid/066_te_single_quoted_token.http" with {
  type: "text",
};
import i066j from "../fixtures/requests/invalid/066_te_single_quoted_token.json" with {
  type: "json",
};
import i067 from "../fixtures/requests/invalid/067_te_double_quoted.http" with { type: "text" };
import i067j from "../fixtures/requests/invalid/067_te_double_quoted.json" with { type: "json" };
import i068 from "../fixtures/requests/invalid/068_te_with_parameter.http" with { type: "text" };
import i068j from "../fixtures/requests/invalid/068_te_with_parameter.json" with { type: "json" };
import i069 from "../fixtures/requests/invalid/069_te_non_ascii_in_coding.http" with {
  type: "text",
};
import i069j from "../fixtures/requests/invalid/069_te_non_ascii_in_coding.json" with {
  type: "json",
};
import i070 from "../fixtures/requests/invalid/070_te_vertical_tab_after_chunked.http" with {
  type: "text",
};
import i070j from "../fixtures/requests/invalid/070_te_vertical_tab_after_chunked.json" with {
  type: "json",
};
import i071 from "../fixtures/requests/invalid/071_te_vertical_tab_before_chunked.http" with {
  type: "text",
};
import i071j from "../fixtures/requests/invalid/071_te_vertical_tab_before_chunked.json" with {
  type: "json",
};
import i072 from "../fixtures/requests/invalid/072_te_form_feed_before_chunked.http" with {
  type: "text",
};
import i072j from "../fixtures/requests/invalid/072_te_form_feed_before_chunked.json" with {
  type: "json",
};
import i073 from "../fixtures/requests/invalid/073_te_nbsp_after_chunked.http" with {
  type: "text",
};
import i073j from "../fixtures/requests/invalid/073_te_nbsp_after_chunked.json" with {
  type: "json",
};
import i074 from "../fixtures/requests/invalid/074_te_and_content_length.http" with {
  type: "text",
};
import i074j from "../fixtures/requests/invalid/074_te_and_content_length.json" with {
  type: "json",
};
import i075 from "../fixtures/requests/invalid/075_te_mixed_case_and_content_length.http" with {
  type: "text",
};
import i075j from "../fixtures/requests/invalid/075_te_mixed_case_and_content_length.json" with {
  type: "json",
};
import i076 from "../fixtures/requests/invalid/076_te_on_http10.http" with { type: "text" };
import i076j from "../fixtures/requests/invalid/076_te_on_http10.json" with { type: "json" };
import i077 from "../fixtures/requests/invalid/077_te_empty_value.http" with { type: "text" };
import i077j from "../fixtures/requests/invalid/077_te_empty_value.json" with { type: "json" };
import i078 from "../fixtures/requests/invalid/078_te_only_commas.http" with { type: "text" };
import i078j from "../fixtures/requests/invalid/078_te_only_commas.json" with { type: "json" };
import i079 from "../fixtures/requests/invalid/079_te_chunked_twice_in_list.http" with {
  type: "text",
};
import i079j from "../fixtures/requests/invalid/079_te_chunked_twice_in_list.json" with {
  type: "json",
};
import i080 from "../fixtures/requests/invalid/080_te_chunked_on_two_lines.http" with {
  type: "text",
};
import i080j from "../fixtures/requests/invalid/080_te_chunked_on_two_lines.json" with {
  type: "json",
};
import i081 from "../fixtures/requests/invalid/081_te_space_in_name.http" with { type: "text" };
import i081j from "../fixtures/requests/invalid/081_te_space_in_name.json" with { type: "json" };
import i082 from "../fixtures/requests/invalid/082_te_tab_before_colon.http" with { type: "text" };
import i082j from "../fixtures/requests/invalid/082_te_tab_before_colon.json" with { type: "json" };
import i083 from "../fixtures/requests/invalid/083_te_line_folded.http" with { type: "text" };
import i083j from "../fixtures/requests/invalid/083_te_line_folded.json" with { type: "json" };
import i084 from "../fixtures/requests/invalid/084_te_hidden_after_bare_cr.http" with {
  type: "text",
};
import i084j from "../fixtures/requests/invalid/084_te_hidden_after_bare_cr.json" with {
  type: "json",
};
import i085 from "../fixtures/requests/invalid/085_te_hidden_after_bare_lf.http" with {
  type: "text",
};
import i085j from "../fixtures/requests/invalid/085_te_hidden_after_bare_lf.json" with {
  type: "json",
};
import i086 from "../fixtures/requests/invalid/086_te_cr_inside_name.http" with { type: "text" };
import i086j from "../fixtures/requests/invalid/086_te_cr_inside_name.json" with { type: "json" };
import i087 from "../fixtures/requests/invalid/087_expect_unknown.http" with { type: "text" };
import i087j from "../fixtures/requests/invalid/087_expect_unknown.json" with { type: "json" };
import i088 from "../fixtures/requests/invalid/088_request_line_too_long.http" with {
  type: "text",
};
import i088j from "../fixtures/requests/invalid/088_request_line_too_long.json" with {
  type: "json",
};
import i089 from "../fixtures/requests/invalid/089_request_line_too_long_partial.http" with {
  type: "text",
};
import i089j from "../fixtures/requests/invalid/089_request_line_too_long_partial.json" with {
  type: "json",
};
import i090 from "../fixtures/requests/invalid/090_head_too_large_partial.http" with {
  type: "text",
};
import i090j from "../fixtures/requests/invalid/090_head_too_large_partial.json" with {
  type: "json",
};
import i091 from "../fixtures/requests/invalid/091_head_too_large_complete.http" with {
  type: "text",
};
import i091j from "../fixtures/requests/invalid/091_head_too_large_complete.json" with {
  type: "json",
};
import i092 from "../fixtures/requests/invalid/092_too_many_headers.http" with { type: "text" };
import i092j from "../fixtures/requests/invalid/092_too_many_headers.json" with { type: "json" };
import i093 from "../fixtures/requests/invalid/093_chunk_size_then_junk.http" with { type: "text" };
import i093j from "../fixtures/requests/invalid/093_chunk_size_then_junk.json" with {
  type: "json",
};
import i094 from "../fixtures/requests/invalid/094_chunk_size_space_without_extension.http" with {
  type: "text",
};
import i094j from "../fixtures/requests/invalid/094_chunk_size_space_without_extension.json" with {
  type: "json",
};
import i095 from "../fixtures/requests/invalid/095_chunk_size_hex_prefix.http" with {
  type: "text",
};
import i095j from "../fixtures/requests/invalid/095_chunk_size_hex_prefix.json" with {
  type: "json",
};
import i096 from "../fixtures/requests/invalid/096_chunk_size_plus_sign.http" with { type: "text" };
import i096j from "../fixtures/requests/invalid/096_chunk_size_plus_sign.json" with {
  type: "json",
};
import i097 from "../fixtures/requests/invalid/097_chunk_size_empty.http" with { type: "text" };
import i097j from "../fixtures/requests/invalid/097_chunk_size_empty.json" with { type: "json" };
import i098 from "../fixtures/requests/invalid/098_chunk_size_overflow.http" with { type: "text" };
import i098j from "../fixtures/requests/invalid/098_chunk_size_overflow.json" with { type: "json" };
import i099 from "../fixtures/requests/invalid/099_chunk_extension_empty.http" with {
  type: "text",
};
import i099j from "../fixtures/requests/invalid/099_chunk_extension_empty.json" with {
  type: "json",
};
import i100 from "../fixtures/requests/invalid/100_chunk_extension_unbalanced_quote.http" with {
  type: "text",
};
import i100j from "../fixtures/requests/invalid/100_chunk_extension_unbalanced_quote.json" with {
  type: "json",
};
import i101 from "../fixtures/requests/invalid/101_chunk_missing_crlf_after_data.http" with {
  type: "text",
};
import i101j from "../fixtures/requests/invalid/101_chunk_missing_crlf_after_data.json" with {
  type: "json",
};
import i102 from "../fixtures/requests/invalid/102_chunk_bare_lf_after_size.http" with {
  type: "text",
};
import i102j from "../fixtures/requests/invalid/102_chunk_bare_lf_after_size.json" with {
  type: "json",
};
import i103 from "../fixtures/requests/invalid/103_chunk_bare_cr_after_size.http" with {
  type: "text",
};
import i103j from "../fixtures/requests/invalid/103_chunk_bare_cr_after_size.json" with {
  type: "json",
};
import i104 from "../fixtures/requests/invalid/104_chunked_body_above_max_body.http" with {
  type: "text",
};
import i104j from "../fixtures/requests/invalid/104_chunked_body_above_max_body.json" with {
  type: "json",
};
import i105 from "../fixtures/requests/invalid/105_chunk_line_too_long.http" with { type: "text" };
import i105j from "../fixtures/requests/invalid/105_chunk_line_too_long.json" with { type: "json" };
import i106 from "../fixtures/requests/invalid/106_trailer_obs_fold.http" with { type: "text" };
import i106j from "../fixtures/requests/invalid/106_trailer_obs_fold.json" with { type: "json" };
import i107 from "../fixtures/requests/invalid/107_trailers_too_large.http" with { type: "text" };
import i107j from "../fixtures/requests/invalid/107_trailers_too_large.json" with { type: "json" };
import i108 from "../fixtures/requests/invalid/108_te_gzip_alone.http" with { type: "text" };
import i108j from "../fixtures/requests/invalid/108_te_gzip_alone.json" with { type: "json" };
import i109 from "../fixtures/requests/invalid/109_te_chunked_then_gzip_on_two_lines.http" with {
  type: "text",
};
import i109j from "../fixtures/requests/invalid/109_te_chunked_then_gzip_on_two_lines.json" with {
  type: "json",
};
import i110 from "../fixtures/requests/invalid/110_te_unknown_coding_before_chunked.http" with {
  type: "text",
};
import i110j from "../fixtures/requests/invalid/110_te_unknown_coding_before_chunked.json" with {
  type: "json",
};
import i111 from "../fixtures/requests/invalid/111_te_gzip_then_chunked_twice.http" with {
  type: "text",
};
import i111j from "../fixtures/requests/invalid/111_te_gzip_then_chunked_twice.json" with {
  type: "json",
};

const VALID_ROWS: ReadonlyArray<readonly [string, string, unknown]> = [
  ["001_get_origin_form", v001, v001j],
  ["002_path_query_and_names_lowercased", v002, v002j],
  ["003_absolute_form_authority_wins", v003, v003j],
  ["004_options_asterisk", v004, v004j],
  ["005_connect_authority_form", v005, v005j],
  ["006_http10_without_host_closes", v006, v006j],
  ["007_http10_keep_alive", v007, v007j],
  ["008_http11_connection_close", v008, v008j],
  ["009_connection_tokens_any_case", v009, v009j],
  ["010_leading_empty_lines_skipped", v010, v010j],
  ["011_method_is_case_sensitive_token", v011, v011j],
  ["012_method_with_tchar_punctuation", v012, v012j],
  ["013_obs_text_in_value_is_opaque", v013, v013j],
  ["014_htab_and_sp_ows_trimmed", v014, v014j],
  ["015_empty_header_values", v015, v015j],
  ["016_host_ipv6_literal", v016, v016j],
  ["017_host_empty_value_allowed", v017, v017j],
  ["018_content_length_body", v018, v018j],
  ["019_content_length_leading_zeros_are_decimal", v019, v019j],
  ["020_content_length_zero_has_no_body", v020, v020j],
  ["021_content_length_with_tab_ows", v021, v021j],
  ["022_post_without_framing_has_empty_body", v022, v022j],
  ["023_get_with_body_is_framed", v023, v023j],
  ["024_chunked_body", v024, v024j],
  ["025_chunked_coding_case_insensitive", v025, v025j],
  ["026_chunked_after_empty_list_element", v026, v026j],
  ["027_chunked_hex_sizes_leading_zeros", v027, v027j],
  ["028_chunked_extensions_and_trailers", v028, v028j],
  ["029_chunked_utf8_body", v029, v029j],
  ["030_expect_100_continue", v030, v030j],
  ["031_expect_ignored_on_http10", v031, v031j],
  ["032_upgrade_and_content_type", v032, v032j],
  ["033_target_with_sub_delims", v033, v033j],
  ["034_transfer_underscore_is_not_framing", v034, v034j],
  ["035_chunked_with_surrounding_ows", v035, v035j],
  ["036_request_line_at_limit", v036, v036j],
  ["037_header_count_at_limit", v037, v037j],
  ["038_body_at_max_body_bytes", v038, v038j],
  ["039_absolute_form_https_default_port", v039, v039j],
  ["040_version_1_2_served_as_1_1", v040, v040j],
  ["041_version_1_9_chunked_keep_alive", v041, v041j],
];

const INVALID_ROWS: ReadonlyArray<readonly [string, string, unknown]> = [
  ["001_get_asterisk", i001, i001j],
  ["002_get_authority_form", i002, i002j],
  ["003_connect_origin_form", i003, i003j],
  ["004_version_3_1", i004, i004j],
  ["005_version_2_0", i005, i005j],
  ["006_version_9_9", i006, i006j],
  ["007_version_lowercase", i007, i007j],
  ["008_version_without_minor", i008, i008j],
  ["009_version_leading_zero", i009, i009j],
  ["010_version_two_digit_minor", i010, i010j],
  ["011_version_missing", i011, i011j],
  ["012_double_space_after_method", i012, i012j],
  ["013_double_space_before_version", i013, i013j],
  ["014_trailing_space_after_version", i014, i014j],
  ["015_htab_separator", i015, i015j],
  ["016_method_with_delimiter", i016, i016j],
  ["017_junk_before_method", i017, i017j],
  ["018_fragment_in_target", i018, i018j],
  ["019_ctl_in_target", i019, i019j],
  ["020_del_in_target", i020, i020j],
  ["021_non_ascii_in_target", i021, i021j],
  ["022_space_in_target", i022, i022j],
  ["023_bare_lf_after_request_line", i023, i023j],
  ["024_bare_lf_after_header", i024, i024j],
  ["025_all_bare_lf", i025, i025j],
  ["026_bare_cr_in_value", i026, i026j],
  ["027_bare_cr_ending_head", i027, i027j],
  ["028_bare_cr_in_request_line", i028, i028j],
  ["029_leading_bare_lf", i029, i029j],
  ["030_whitespace_before_colon", i030, i030j],
  ["031_obs_fold", i031, i031j],
  ["032_first_header_leading_space", i032, i032j],
  ["033_empty_header_name", i033, i033j],
  ["034_brackets_in_header_name", i034, i034j],
  ["035_non_ascii_in_header_name", i035, i035j],
  ["036_header_without_colon", i036, i036j],
  ["037_nul_in_value", i037, i037j],
  ["038_bel_in_value", i038, i038j],
  ["039_del_in_value", i039, i039j],
  ["040_missing_host_http11", i040, i040j],
  ["041_duplicate_host", i041, i041j],
  ["042_duplicate_host_same_value", i042, i042j],
  ["043_duplicate_host_http10", i043, i043j],
  ["044_host_with_userinfo", i044, i044j],
  ["045_host_with_space", i045, i045j],
  ["046_host_with_path", i046, i046j],
  ["047_host_port_above_65535", i047, i047j],
  ["048_host_port_not_digits", i048, i048j],
  ["049_content_length_plus_sign", i049, i049j],
  ["050_content_length_negative", i050, i050j],
  ["051_content_length_hex", i051, i051j],
  ["052_content_length_trailing_junk", i052, i052j],
  ["053_content_length_inner_space", i053, i053j],
  ["054_content_length_list", i054, i054j],
  ["055_content_length_duplicate_identical", i055, i055j],
  ["056_content_length_duplicate_different", i056, i056j],
  ["057_content_length_empty", i057, i057j],
  ["058_content_length_overflow_2_64_plus_5", i058, i058j],
  ["059_content_length_above_max_body", i059, i059j],
  ["060_content_length_above_default_max_body", i060, i060j],
  ["061_te_gzip_then_chunked", i061, i061j],
  ["062_te_identity", i062, i062j],
  ["063_te_chunked_then_gzip", i063, i063j],
  ["064_te_xchunked", i064, i064j],
  ["065_te_truncated_chunk", i065, i065j],
  ["066_te_single_quoted_token", i066, i066j],
  ["067_te_double_quoted", i067, i067j],
  ["068_te_with_parameter", i068, i068j],
  ["069_te_non_ascii_in_coding", i069, i069j],
  ["070_te_vertical_tab_after_chunked", i070, i070j],
  ["071_te_vertical_tab_before_chunked", i071, i071j],
  ["072_te_form_feed_before_chunked", i072, i072j],
  ["073_te_nbsp_after_chunked", i073, i073j],
  ["074_te_and_content_length", i074, i074j],
  ["075_te_mixed_case_and_content_length", i075, i075j],
  ["076_te_on_http10", i076, i076j],
  ["077_te_empty_value", i077, i077j],
  ["078_te_only_commas", i078, i078j],
  ["079_te_chunked_twice_in_list", i079, i079j],
  ["080_te_chunked_on_two_lines", i080, i080j],
  ["081_te_space_in_name", i081, i081j],
  ["082_te_tab_before_colon", i082, i082j],
  ["083_te_line_folded", i083, i083j],
  ["084_te_hidden_after_bare_cr", i084, i084j],
  ["085_te_hidden_after_bare_lf", i085, i085j],
  ["086_te_cr_inside_name", i086, i086j],
  ["087_expect_unknown", i087, i087j],
  ["088_request_line_too_long", i088, i088j],
  ["089_request_line_too_long_partial", i089, i089j],
  ["090_head_too_large_partial", i090, i090j],
  ["091_head_too_large_complete", i091, i091j],
  ["092_too_many_headers", i092, i092j],
  ["093_chunk_size_then_junk", i093, i093j],
  ["094_chunk_size_space_without_extension", i094, i094j],
  ["095_chunk_size_hex_prefix", i095, i095j],
  ["096_chunk_size_plus_sign", i096, i096j],
  ["097_chunk_size_empty", i097, i097j],
  ["098_chunk_size_overflow", i098, i098j],
  ["099_chunk_extension_empty", i099, i099j],
  ["100_chunk_extension_unbalanced_quote", i100, i100j],
  ["101_chunk_missing_crlf_after_data", i101, i101j],
  ["102_chunk_bare_lf_after_size", i102, i102j],
  ["103_chunk_bare_cr_after_size", i103, i103j],
  ["104_chunked_body_above_max_body", i104, i104j],
  ["105_chunk_line_too_long", i105, i105j],
  ["106_trailer_obs_fold", i106, i106j],
  ["107_trailers_too_large", i107, i107j],
  ["108_te_gzip_alone", i108, i108j],
  ["109_te_chunked_then_gzip_on_two_lines", i109, i109j],
  ["110_te_unknown_coding_before_chunked", i110, i110j],
  ["111_te_gzip_then_chunked_twice", i111, i111j],
];

const VALID: Fixture<ValidExpectation>[] = VALID_ROWS.map(([name, http, expect]) => ({
  name,
  http,
  expect: expect as ValidExpectation,
}));
const INVALID: Fixture<InvalidExpectation>[] = INVALID_ROWS.map(([name, http, expect]) => ({
  name,
  http,
  expect: expect as InvalidExpectation,
}));

for (const fixture of VALID) {
  Deno.test(`parses fixture valid/${fixture.name}`, () => runValidFixture(fixture));
}

for (const fixture of INVALID) {
  const { status, code } = fixture.expect;
  Deno.test(`rejects fixture invalid/${fixture.name} with ${status} ${code}`, () => {
    runInvalidFixture(fixture);
  });
}

Deno.test("fixture names are numbered NNN_snake_case without gaps", () => {
  for (const list of [VALID, INVALID]) {
    list.forEach((f, i) => {
      assert.match(f.name, /^\d{3}_[a-z0-9_]+$/);
      assert.equal(Number(f.name.slice(0, 3)), i + 1, `${f.name} is number ${i + 1}`);
    });
  }
});

Deno.test("fixture files decode with the escape convention", () => {
  for (const f of [...VALID, ...INVALID]) decodeEscapes(f.http);
  assert.ok(VALID.length + INVALID.length >= 60);
});

const FIXTURE_DIR = new URL("../fixtures/requests/", import.meta.url);
const CAN_READ =
  Deno.permissions.querySync({ name: "read", path: FIXTURE_DIR }).state === "granted";

Deno.test({
  name: "fixture manifest lists every fixture file (needs --allow-read)",
  ignore: !CAN_READ,
  fn() {
    const missing: string[] = [];
    for (const [kind, list] of [["valid", VALID], ["invalid", INVALID]] as const) {
      const known = new Set(list.map((f) => f.name));
      const names = new Set<string>();
      for (const entry of Deno.readDirSync(new URL(`${kind}/`, FIXTURE_DIR))) {
        const m = /^(.*)\.(http|json)$/.exec(entry.name);
        assert.ok(m, `unexpected file ${kind}/${entry.name}`);
        names.add(m[1]);
      }
      for (const name of [...names].sort()) {
        if (known.has(name)) continue;
        const id = `${kind[0]}${name.slice(0, 3)}`;
        const path = `../fixtures/requests/${kind}/${name}`;
        missing.push(
          `import ${id} from "${path}.http" with { type: "text" };`,
          `import ${id}j from "${path}.json" with { type: "json" };`,
          `  ["${name}", ${id}, ${id}j],  // ${kind.toUpperCase()}_ROWS`,
        );
      }
      for (const name of known) assert.ok(names.has(name), `${kind}/${name} has no files`);
    }
    assert.deepStrictEqual(missing, [], `add to fixtures_test.ts:\n${missing.join("\n")}`);
  },
});
