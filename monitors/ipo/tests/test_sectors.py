import pytest

from monitors.ipo import sectors


@pytest.mark.parametrize(("sic", "sector"), [
    ("2834", "Health Care"), ("3841", "Health Care"), ("8062", "Health Care"),
    ("3571", "Information Technology"), ("3674", "Information Technology"), ("7372", "Information Technology"),
    ("4813", "Communication Services"), ("2711", "Communication Services"), ("7812", "Communication Services"),
    ("6022", "Financials"), ("6770", "Financials"), ("6726", "Financials"),
    ("6798", "Real Estate"), ("6531", "Real Estate"),
    ("4911", "Utilities"), ("1311", "Energy"), ("2911", "Energy"),
    ("1040", "Materials"), ("2621", "Materials"), ("2821", "Materials"), ("3312", "Materials"),
    ("2080", "Consumer Staples"), ("5411", "Consumer Staples"),
    ("5812", "Consumer Discretionary"), ("3711", "Consumer Discretionary"), ("7011", "Consumer Discretionary"),
    ("7990", "Consumer Discretionary"),
    ("1531", "Industrials"), ("3569", "Industrials"), ("3728", "Industrials"), ("4731", "Industrials"),
    ("5065", "Industrials"), ("7363", "Industrials"), ("8711", "Industrials"),
])
def test_sic_table_maps_each_division_to_its_sector(sic, sector):
    assert sectors.sector_for_sic(sic) == sector


def test_every_sector_in_the_table_is_one_of_the_eleven():
    assert {sector for _, _, sector in sectors.SIC_RANGES} == set(sectors.SECTORS)
    assert len(sectors.SECTORS) == 11


@pytest.mark.parametrize("sic", [None, "", "abc", "9995", "0"])
def test_unknown_or_bad_sic_has_no_sector(sic):
    assert sectors.sector_for_sic(sic) is None


def test_spac_flag_is_only_for_blank_checks():
    assert sectors.is_spac_sic("6770")
    assert not sectors.is_spac_sic("6798")


def test_description_keywords_decide_and_say_why():
    sector, why = sectors.sector_from_description(
        "A clinical-stage biotech developing therapeutics for oncology patients.")
    assert sector == "Health Care"
    assert "clinical" in why and "oncology" in why


def test_description_that_is_ambiguous_or_empty_gives_no_sector():
    assert sectors.sector_from_description(None) == (None, "no business description")
    sector, why = sectors.sector_from_description("software for banks")
    assert sector is None and "ambiguous" in why
    assert sectors.sector_from_description("We make things.")[0] is None
