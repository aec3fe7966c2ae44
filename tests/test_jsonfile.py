"""Every verb that takes a JSON file (deploy --config, provision --config, sim board --scenario) reads it the same
way and says the same one line when it is wrong."""

import pytest
from fieldnode.cli import main
from fieldnode.errors import ConfigError
from fieldnode.jsonfile import read_object


@pytest.mark.parametrize("content,says", [(None, "cannot read"), ("{not json", "is not valid JSON"),
                                          ("[1, 2]", "must hold a board scenario")])
def test_a_bad_json_file_is_one_line(tmp_path, content, says):
    p = tmp_path / "scn.json"
    if content is not None:
        p.write_text(content)
    with pytest.raises(ConfigError) as e:
        read_object(p, "a board scenario, a JSON object", '{"modem": {}}')
    assert says in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)


def test_sim_board_refuses_a_bad_scenario_before_starting(tmp_path, capsys):
    p = tmp_path / "scn.json"
    p.write_text("{oops")
    rc = main(["sim", "board", "--board", "m5stack-core2", "--scenario", str(p)])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.startswith("error: ") and "is not valid JSON" in err and len(err.splitlines()) == 1
